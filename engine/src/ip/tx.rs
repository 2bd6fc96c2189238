//! TCP's segments onto the wire: the IP layer's [`SegmentSink`]. Ethernet and IP (v4 or v6)
//! headers go in front of a clone of the queued payload (ARCHITECTURE decision 5), with the
//! port's offloads where it has them (decision 6), after neighbour resolution.
//!
//! Three ways to build a data frame, chosen per frame:
//! - *header in headroom*: when the port copies frames on transmit (`tx_copies`: tap,
//!   af_packet, memif), the frame is not a TSO super-segment and the payload's first mbuf is
//!   direct with refcount 1, the headers go into that mbuf's headroom through an indirect
//!   clone (one extra reference; Linux's `skb_clone` case);
//! - *header mbuf*: otherwise (net_ring hands the very mbuf to the peer; NICs hold it until
//!   DMA completes) a small header mbuf is chained to an indirect clone of the payload
//!   (Linux's `pskb_copy` case). Frames waiting for resolution always take this form;
//! - *copy-break*: a payload of at most [`TX_COPYBREAK`] bytes is copied into the header mbuf
//!   (one mbuf, no indirect clone), cheaper than either of the above for small segments.
//!
//! The queued payload itself never leaves the send queue and is never modified.
//!
//! The IP header's ECN field is TCP's choice per segment (`OutSegment::ecn`, RFC 3168 §6.1.1),
//! written before any checksum is computed or offloaded.
//!
//! Checksums: with offload, the IPv4 checksum is left to the port and the TCP checksum field
//! holds the pseudo-header sum (without the length for TSO, as DPDK requires); without, both
//! are computed here over all segments. On a port whose offload gets chains with odd-length
//! pieces wrong (`DeviceCaps::tx_cksum_odd_chain_bug`, net_tap; see `tap_csum`), such a frame
//! takes the software TCP checksum and such a TSO unit goes out as ordinary frames
//! ([`TcpTx::send_tso_as_frames`]). Identification: an IPv4 TSO frame of N wire segments
//! uses N consecutive identifications (the port numbers its segments from the frame's own, as
//! Linux's `ip_select_ident_segs`); IPv6 has none.

use std::net::IpAddr;

use super::ETH;
use super::IpLayer;
use super::Route;
use super::tap_csum::tx_csum_offload_safe;
use super::template::{HeaderTemplate, IpFields, emit_l2_l3, ip_header_len};
use crate::buf::{L4, Pkt, Pools, TxRequest};
use crate::dev::TxBatch;
use crate::tcp::{FlowId, OutSegment, SegmentSink};
use crate::time::Instant;
use crate::wire::{Checksum, Ipv4Packet, MacAddr, TcpFlags, TcpPacket, checksum};

/// Payloads up to this size are copied into the header mbuf instead of being chained as an
/// indirect clone: copying 256 bytes costs less than allocating and attaching an indirect
/// mbuf, and the frame then shares nothing with the send queue (no refcount traffic between
/// the sender's core and whoever frees the frame, e.g. the peer core on net_ring).
pub const TX_COPYBREAK: usize = 256;

/// The IP layer as TCP's sink, for one poll (or one application call): the layer, its pools
/// and the TX batch, at time `now`.
pub struct TcpTx<'a> {
    pub now: Instant,
    pub ip: &'a mut IpLayer,
    pub pools: &'a Pools,
    pub tx: &'a mut TxBatch,
}

impl SegmentSink for TcpTx<'_> {
    /// The TX batch is not stopped (`TxBatch::stopped`); each refusal is counted.
    #[inline]
    fn may_send(&mut self) -> bool {
        if self.tx.stopped() {
            self.tx.throttled += 1;
            return false;
        }
        true
    }

    #[inline]
    fn has_control_room(&mut self) -> bool {
        self.tx.has_control_room()
    }

    fn send(&mut self, seg: &OutSegment<'_>) -> bool {
        if let (Some(segsz), Some(p)) = (seg.tso_segsz, seg.payload)
            && self.ip.caps.tx_cksum_odd_chain_bug
            && self.ip.caps.tx.tso
            && segsz > 0
            && p.len() > usize::from(segsz)
            && !tx_csum_offload_safe(p, 0, usize::from(segsz))
        {
            return self.send_tso_as_frames(seg, p, segsz);
        }
        if seg.tso_segsz.is_none()
            && let Some(flow) = seg.flow
            && let Some(sent) = self.send_small(seg, flow)
        {
            return sent;
        }
        self.send_general(seg)
    }
}

/// A frame being finished: its mbufs, TCP header length and payload length.
struct Frame {
    pkt: Pkt,
    l4_off: usize,
    tcp_len: usize,
    plen: usize,
}

impl TcpTx<'_> {
    /// The common frame, straight through: a copy-break (or empty) payload behind headers from
    /// the connection's template, already built for the cached route, in one fresh header
    /// mbuf. `None`, with nothing done, when a precondition does not hold (payload too large,
    /// options the template lacks, route not cached, template not built for this route): the
    /// caller takes [`TcpTx::send_general`], which gives the same frame.
    #[inline]
    fn send_small(&mut self, seg: &OutSegment<'_>, flow: FlowId) -> Option<bool> {
        let plen = seg.payload.map_or(0, Pkt::len);
        if plen > TX_COPYBREAK || !HeaderTemplate::fits(seg.repr) {
            return None;
        }
        let ip = &mut *self.ip;
        let dst_mac = ip.cached_route(self.now, seg.tuple.remote_ip)?;
        let ts = seg.repr.timestamps.is_some();
        let (t, ext) = ip.templates.get(flow)?;
        if !t.matches(flow, ip.mac, dst_mac, ts) {
            return None;
        }
        let hdr_len = t.header_len();
        let Some(mut pkt) = Pkt::alloc(&self.pools.hdr) else {
            ip.counters.tx_nombuf += 1;
            return Some(false);
        };
        let buf = pkt.append(hdr_len + plen)?;
        match seg.payload {
            Some(p) if plen > 0 => {
                p.copy_out(0, &mut buf[hdr_len..]);
                ip.counters.tx_copybreak += 1;
            }
            _ => ip.counters.tx_hdr_mbuf += 1,
        }
        let l4_off = t.l4_offset();
        let tcp_len = hdr_len - l4_off;
        let fields = IpFields {
            l4_len: (tcp_len + plen) as u16,
            ident: ip.ident.next(),
            ecn: seg.ecn,
        };
        t.write(ext, buf, seg.repr, fields);
        if ip.caps.trusted {
            // The common frame on an in-process link: no checksum, one segment, resolved.
            ip.counters.out_requests(seg.tuple.is_ipv6(), 1);
            self.tx.push(pkt);
            return Some(true);
        }
        let frame = Frame {
            pkt,
            l4_off,
            tcp_len,
            plen,
        };
        self.finish_and_queue(frame, seg, 0, Route::Resolved(dst_mac));
        Some(true)
    }

    /// Sends `payload`, a unit that would leave as one TSO frame of `segsz`-byte wire segments,
    /// as those wire segments themselves: ordinary frames with the same sequence numbers, PSH
    /// and FIN on the last one only, consecutive IP identifications, each taking the checksum
    /// offload or the software checksum by [`tx_csum_offload_safe`]. For ports whose TSO would
    /// checksum the pieces wrongly (`DeviceCaps::tx_cksum_odd_chain_bug`).
    ///
    /// Cost, against net_tap's own TSO (which is software too): per wire segment the same
    /// header mbuf, indirect clones and checksum pass that `rte_gso_segment` and
    /// `tap_write_mbufs` would spend, one more set of indirect clones (the piece, freed at once)
    /// and a run of the frame builder. The payload is never copied (copying the unit into
    /// even-sized mbufs would keep TSO but copy up to 64 KiB per frame and per retransmission).
    #[inline(never)]
    fn send_tso_as_frames(&mut self, seg: &OutSegment<'_>, payload: &Pkt, segsz: u16) -> bool {
        self.ip.counters.tso_odd_chain_split += 1;
        let (len, step) = (payload.len(), usize::from(segsz));
        let mut off = 0;
        while off < len {
            let n = step.min(len - off);
            let mut r = *seg.repr;
            r.seq = seg.repr.seq + off as u32;
            if off + n < len {
                r.flags.remove(TcpFlags::PSH | TcpFlags::FIN);
            }
            let Some(piece) = payload.clone_range(&self.pools.indirect, off, n) else {
                self.ip.counters.tx_nombuf += 1;
                return false;
            };
            let one = OutSegment {
                repr: &r,
                payload: Some(&piece),
                tso_segsz: None,
                ..*seg
            };
            if !self.send(&one) {
                return false;
            }
            off += n;
        }
        true
    }

    /// Every frame: any route state, payload form, option layout, family and TSO.
    #[inline(never)]
    fn send_general(&mut self, seg: &OutSegment<'_>) -> bool {
        let (now, pools) = (self.now, self.pools);
        let route = self.ip.route(now, seg.tuple.remote_ip, pools, self.tx);
        let dst_mac = match route {
            Route::Resolved(m) => m,
            Route::Pending(_) => MacAddr::ZERO,
            Route::NoRoute => return false,
        };
        let resolved = matches!(route, Route::Resolved(_));
        let ts = seg.repr.timestamps.is_some();
        let flow = seg
            .flow
            .filter(|_| resolved && HeaderTemplate::fits(seg.repr));
        let l4_off = ETH + ip_header_len(seg.tuple);
        let tcp_len = match flow {
            Some(_) => HeaderTemplate::tcp_len(ts),
            None => seg.repr.header_len(),
        };
        let hdr_len = l4_off + tcp_len;
        let plen = seg.payload.map_or(0, Pkt::len);
        let caps = &self.ip.caps;
        let segsz = seg.tso_segsz.filter(|_| caps.tx.tso).unwrap_or(0);
        let tso = segsz > 0 && plen > usize::from(segsz);
        // A TSO frame must start with a direct mbuf: net_tap's software TSO (DPDK 22.11
        // `rte_gso_segment`) copies the head's `ol_flags`, INDIRECT bit included, into the header
        // mbufs it allocates, and freeing those then returns them to its pool twice.
        let headroom_ok = resolved && caps.tx_copies && !tso;
        let Some(mut pkt) = self.build_frame(hdr_len, seg.payload, headroom_ok) else {
            self.ip.counters.tx_nombuf += 1;
            return false;
        };
        // SAFETY: the first hdr_len bytes of this frame are its own header bytes: a fresh header
        // mbuf, or the reserved headroom of a clone_into_headroom frame.
        let head = unsafe { pkt.head_mut() };
        let fields = IpFields {
            l4_len: (tcp_len + plen).min(usize::from(u16::MAX) - l4_off) as u16,
            ident: self.ip.ident.next(),
            ecn: seg.ecn,
        };
        let mac = self.ip.mac;
        match flow {
            Some(flow) => {
                let (t, ext) = self.ip.templates.slot(flow, seg.tuple.is_ipv6());
                if !t.matches(flow, mac, dst_mac, ts) {
                    t.build(ext, flow, (mac, dst_mac), seg.tuple, ts);
                }
                t.write(ext, head, seg.repr, fields);
            }
            None => {
                let at = emit_l2_l3(head, mac, dst_mac, seg.tuple, fields);
                seg.repr.emit(&mut head[at..]);
            }
        }
        let frame = Frame {
            pkt,
            l4_off,
            tcp_len,
            plen,
        };
        self.finish_and_queue(frame, seg, if tso { segsz } else { 0 }, route);
        true
    }

    /// The frame's mbufs with `hdr_len` bytes reserved for the headers: in the payload's
    /// headroom when `headroom_ok` allows it, else a header mbuf (counted by form). `None` when
    /// out of mbufs.
    fn build_frame(
        &mut self,
        hdr_len: usize,
        payload: Option<&Pkt>,
        headroom_ok: bool,
    ) -> Option<Pkt> {
        let c = &mut self.ip.counters;
        if let Some(p) = payload
            && headroom_ok
            && p.len() > TX_COPYBREAK
            && p.max_data_refcnt() == 1
        {
            // SAFETY: the port copies on transmit (tx_copies) and no other clone of this
            // payload is in flight (refcount 1), so its headroom is ours for this frame.
            if let Some(f) = unsafe { p.clone_into_headroom(&self.pools.indirect, hdr_len) } {
                c.tx_in_headroom += 1;
                return Some(f);
            }
        }
        let (f, copied) = header_mbuf(self.pools, hdr_len, payload)?;
        if copied {
            c.tx_copybreak += 1;
        } else {
            c.tx_hdr_mbuf += 1;
        }
        Some(f)
    }

    /// Checksums (or their offload), counters, and the frame onto the TX batch, or onto the
    /// neighbour queue while `route` is pending. `segsz` is the TSO segment size, 0 for an
    /// ordinary frame.
    #[inline]
    fn finish_and_queue(&mut self, mut f: Frame, seg: &OutSegment<'_>, segsz: u16, route: Route) {
        let tso = segsz > 0;
        let v6 = seg.tuple.is_ipv6();
        // A link that cannot corrupt frames (in-process ring, `DeviceCaps::trusted`) gets no
        // checksums, as Linux skips them on loopback.
        if !self.ip.caps.trusted {
            let req = self.finish_checksums(&mut f, seg, segsz);
            // The request is built from checked lengths and the port's offloads: it cannot be
            // refused; if it were, the frame would leave without offload and the peer drop it.
            if req.any() && f.pkt.request_tx_offload(req).is_err() {
                self.ip.counters.tx_offload_refused += 1;
            }
        }
        let segs = if tso {
            f.plen.div_ceil(usize::from(segsz)).max(1) as u64
        } else {
            1
        };
        let c = &mut self.ip.counters;
        if tso {
            c.tso_frames += 1;
            c.tso_wire_segs += segs;
        }
        c.out_requests(v6, segs);
        if !v6 {
            // The port numbers the extra wire segments of a TSO frame with the next
            // identifications: reserve them.
            self.ip.ident.reserve(segs - 1);
        }
        match route {
            Route::Pending(hop) => self
                .ip
                .send_unresolved(self.now, hop, f.pkt, self.pools, self.tx),
            _ => self.tx.push(f.pkt),
        }
    }

    /// Fills the checksums, or prepares them for the port and says which offloads to ask for
    /// (`buf::TxRequest`, the one place offload wishes become mbuf flags).
    fn finish_checksums(&mut self, f: &mut Frame, seg: &OutSegment<'_>, segsz: u16) -> TxRequest {
        let caps = &self.ip.caps;
        let v6 = seg.tuple.is_ipv6();
        let mut req = TxRequest {
            ipv6: v6,
            l2_len: ETH as u8,
            l3_len: (f.l4_off - ETH) as u16,
            l4_len: f.tcp_len as u8,
            ..TxRequest::default()
        };
        let tso = segsz > 0;
        let (src, dst) = (seg.tuple.local_ip, seg.tuple.remote_ip);
        // A TSO frame the port would get wrong does not come here (`send_tso_as_frames`).
        let odd_chain = caps.tx_cksum_odd_chain_bug
            && !tso
            && caps.tx.tcp_cksum
            && !tx_csum_offload_safe(&f.pkt, f.l4_off, usize::MAX);
        // SAFETY: the header bytes belong to this frame alone (see `send_general`).
        let head = unsafe { f.pkt.head_mut() };
        // DPDK requires the IPv4 checksum offload with IPv4 TSO (`link_caps` offers TSO only
        // on ports that have both).
        req.ipv4_cksum = !v6 && (caps.tx.ipv4_cksum || tso);
        if !v6 && !req.ipv4_cksum {
            Ipv4Packet::new_unchecked(&mut head[ETH..f.l4_off]).fill_checksum();
        }
        let l4 = (f.tcp_len + f.plen) as u32;
        if tso || (caps.tx.tcp_cksum && !odd_chain) {
            // The port completes the checksum from the pseudo-header sum; for TSO the length is
            // left out, since each wire segment has its own (DPDK rte_ipv4_phdr_cksum and
            // rte_ipv6_phdr_cksum rule).
            let len = if tso { 0 } else { l4 };
            let ph = checksum::fold(pseudo_header(src, dst, len));
            TcpPacket::new_unchecked(&mut head[f.l4_off..]).set_checksum(ph);
            req.l4_cksum = Some(L4::Tcp);
            req.tso_segsz = segsz;
            return req;
        }
        let mut c = Checksum::with_sum(pseudo_header(src, dst, l4));
        let mut skip = f.l4_off;
        for s in f.pkt.segments() {
            if skip >= s.len() {
                skip -= s.len();
                continue;
            }
            c.add(&s[skip..]);
            skip = 0;
        }
        let sum = c.finish();
        // SAFETY: as above.
        let head = unsafe { f.pkt.head_mut() };
        TcpPacket::new_unchecked(&mut head[f.l4_off..]).set_checksum(sum);
        self.ip.counters.tx_csum_odd_chain += u64::from(odd_chain);
        req
    }
}

/// The TCP pseudo-header's partial sum for either family (RFC 9293 §3.1; RFC 8200 §8.1).
/// The addresses are of one family (a `FourTuple`'s or a received datagram's).
#[inline]
pub(super) fn pseudo_header(src: IpAddr, dst: IpAddr, len: u32) -> u32 {
    let v6 = |a: IpAddr| match a {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    };
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => checksum::pseudo_header(s, d, 6, len),
        (s, d) => checksum::pseudo_header_v6(&v6(s), &v6(d), 6, len),
    }
}

/// A header mbuf with room for the headers, followed by the payload: copied into it when
/// small (returns true), else chained as an indirect clone.
fn header_mbuf(pools: &Pools, hdr_len: usize, payload: Option<&Pkt>) -> Option<(Pkt, bool)> {
    let mut h = Pkt::alloc(&pools.hdr)?;
    let Some(p) = payload.filter(|p| !p.is_empty()) else {
        h.append(hdr_len)?;
        return Some((h, false));
    };
    if p.len() <= TX_COPYBREAK && h.tailroom() >= hdr_len + p.len() {
        let buf = h.append(hdr_len + p.len())?;
        p.copy_out(0, &mut buf[hdr_len..]);
        return Some((h, true));
    }
    h.append(hdr_len)?;
    let c = p.clone_range(&pools.indirect, 0, p.len())?;
    h.chain(c).ok()?;
    Some((h, false))
}
