//! Frame input: Ethernet → ARP | IPv4 | IPv6 (`ipv6`) → ICMP | TCP, with the checks of
//! RFC 1122 §3.2.1.
//!
//! Every frame either comes out as a [`Segment`] for the TCP layer, or is answered (ARP, ping)
//! or dropped here, and every drop is counted. Checksums that the NIC verified
//! (`RTE_MBUF_F_RX_*_CKSUM_GOOD`) are not recomputed; `*_BAD` is a drop; otherwise the check is
//! done in software over all segments. The common TCP segment is first offered to receive
//! prediction (`predict.rs`), which accepts it in one pass or hands it back to this path.

use std::net::{IpAddr, Ipv4Addr};

use super::tx::pseudo_header;
use super::{ETH, IP4, IpLayer};
use crate::buf::{CsumVerdict, Pkt, Pools};
use crate::dev::TxBatch;
use crate::tcp::{Ecn, Segment};
use crate::time::Instant;
use crate::wire::{
    Checksum, EtherType, EthernetFrame, IpProtocol, Ipv4Packet, TcpPacket, TcpRepr, checksum,
};

/// What the port said about a checksum (`Pkt::rx_csum`), or Good on a link that cannot
/// corrupt frames (`DeviceCaps::trusted`): as if checked.
#[inline]
pub(super) fn hw_csum(trusted: bool, port: CsumVerdict) -> CsumVerdict {
    if trusted { CsumVerdict::Good } else { port }
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

impl IpLayer {
    /// Processes one received frame. Returns the TCP segment it carried, if any; ARP and ICMP
    /// answers go into `tx`.
    #[inline]
    pub fn input(
        &mut self,
        now: Instant,
        frame: Pkt,
        pools: &Pools,
        tx: &mut TxBatch,
    ) -> Option<Segment> {
        // The common TCP segment first (see `predict`); anything else takes the general path.
        match self.predict(&frame) {
            Some(p) => Some(self.accept_predicted(frame, p)),
            None => self.input_general(now, frame, pools, tx),
        }
    }

    /// [`IpLayer::input`] layer by layer, for every frame.
    pub(super) fn input_general(
        &mut self,
        now: Instant,
        frame: Pkt,
        pools: &Pools,
        tx: &mut TxBatch,
    ) -> Option<Segment> {
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
        if dst != self.mac && !dst.is_broadcast() && !self.wants_multicast(dst) {
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
            EtherType::Ipv6 => self.ipv6_input(now, frame, pools, tx),
            _ => {
                self.counters.eth_in_unknown_type += 1;
                None
            }
        }
    }

    fn ipv4_input(
        &mut self,
        now: Instant,
        mut frame: Pkt,
        pools: &Pools,
        tx: &mut TxBatch,
    ) -> Option<Segment> {
        self.counters.ip_in_receives += 1;
        let ip_hw = hw_csum(self.caps.trusted, frame.rx_csum().ip);
        let data = &frame.data()[ETH..];
        // The datagram may continue in later segments: lengths are checked against the whole
        // frame, the header against the first segment.
        let total = frame.len() - ETH;
        // RFC 1122 §3.2.1.1-2, in the order of Linux's ip_rcv_core so the counters agree with
        // nstat: header too short, bad version or IHL → IpInHdrErrors; bad checksum →
        // IpExtInCsumErrors too; total length beyond the frame → IpExtInTruncatedPkts;
        // total length shorter than the header → IpInHdrErrors.
        let Some(&ver_ihl) = data.first().filter(|_| data.len() >= IP4) else {
            self.counters.ip_in_hdr_errors += 1;
            return None;
        };
        let hlen = usize::from(ver_ihl & 0x0f) * 4;
        if ver_ihl >> 4 != 4 || hlen < IP4 {
            self.counters.ip_in_hdr_errors += 1;
            return None;
        }
        // RFC 3168 §5: the ECN field, counted where Linux counts it (before the rest).
        let ecn = Ecn::from_bits(data[1]);
        self.counters.in_ecn(false, ecn);
        if hlen > data.len() {
            self.counters.ip_in_hdr_errors += 1;
            return None;
        }
        // Every field read below lies within the checked header.
        let ip = Ipv4Packet::new_unchecked(data);
        if ip_hw == CsumVerdict::Bad || (ip_hw == CsumVerdict::Unknown && !ip.verify_checksum()) {
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
        if dst != Ipv4Addr::BROADCAST && !self.is_local(IpAddr::V4(dst)) {
            self.counters.ip_in_addr_errors += 1;
            return None;
        }
        if fragment {
            self.counters.ip_reasm_reqds += 1;
            self.counters.ip_reasm_fails += 1;
            return None;
        }
        // Drop Ethernet padding beyond the datagram.
        frame.trim_back(frame.len() - ETH - tlen);
        match proto {
            IpProtocol::Icmp => {
                self.counters.ip_in_delivers += 1;
                self.icmp_input(now, frame, hlen, pools, tx);
                None
            }
            IpProtocol::Tcp => {
                self.counters.ip_in_delivers += 1;
                self.tcp_input(frame, src.into(), dst.into(), ecn, ETH + hlen)
            }
            _ => {
                self.counters.ip_in_unknown_protos += 1;
                None
            }
        }
    }

    /// A TCP segment at offset `off` of `frame` (after the IP header and any extension
    /// headers), from `src` to `dst` of either family, in a datagram whose ECN field was
    /// `ecn`: checksum, header, then the segment.
    pub(super) fn tcp_input(
        &mut self,
        mut frame: Pkt,
        src: IpAddr,
        dst: IpAddr,
        ecn: Ecn,
        off: usize,
    ) -> Option<Segment> {
        let seg_len = frame.len() - off;
        let hw = hw_csum(self.caps.trusted, frame.rx_csum().l4);
        let ok = match hw {
            CsumVerdict::Good => true,
            CsumVerdict::Bad => false,
            CsumVerdict::Unknown => {
                let pseudo = pseudo_header(src, dst, seg_len as u32);
                checksum::fold(chain_sum(&frame, off, seg_len, Checksum::with_sum(pseudo)).sum())
                    == 0xffff
            }
        };
        if !ok {
            self.counters.tcp_in_csum_errors += 1;
            return None;
        }
        // The TCP header must lie in the first segment (see `input_general`).
        let parsed = TcpPacket::new_checked(frame.data().get(off..).unwrap_or_default())
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
        Some(Segment {
            src,
            dst,
            ecn,
            repr,
            payload,
        })
    }
}
