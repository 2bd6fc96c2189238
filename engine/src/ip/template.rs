//! Per-connection header templates: the Ethernet, IP (v4 or v6) and TCP header bytes that are
//! the same in every segment of a connection, built once with the generic emitters and then
//! copied and patched per segment, instead of emitting every field of every header every time.
//!
//! Patched per segment: the IP length (IPv4 total length, IPv6 payload length), the IPv4
//! identification and the ECN field (RFC 3168 §5: the low two bits of the IPv4 TOS byte or of
//! the IPv6 traffic class; ECT(0) on new data of an ECN connection, Not-ECT on everything
//! else); TCP sequence and acknowledgment numbers, flags, window and the timestamp values.
//! Everything else (MAC addresses, addresses and ports, TTL or hop limit, DF, DSCP 0, the data
//! offset and the `NOP NOP TS` option layout of RFC 7323 appendix A) comes from the template.
//! Checksums are left zero, as by the generic path, for `tx` to fill or offload once the
//! header is final (so a patched ECN field is covered by the IPv4 header checksum).
//!
//! The IP layer keeps one template per connection in [`Templates`], indexed by the
//! connection's [`FlowId`] (a slab index; a slot holds an IPv4 template, an IPv6 one keeps its
//! last [`EXT`] bytes in a side table at the same index, grown only when an IPv6 template is
//! built, up to the highest index an IPv6 flow has had): TCP carries no header bytes
//! (ARCHITECTURE decision 13). A template is used only when it was built for the same flow id (index *and*
//! generation, so a later connection in the same slot rebuilds it), the same MAC addresses and
//! the same timestamp setting, and when the segment carries no MSS, window-scale,
//! SACK-permitted or SACK option and no urgent pointer (every segment but the SYNs and those
//! with SACK blocks). Anything else takes the generic path, which also (re)builds the template.

use crate::tcp::{Ecn, FlowId, FourTuple};
use crate::wire::{
    EtherType, EthernetRepr, IpProtocol, Ipv4Repr, Ipv6Repr, MacAddr, SeqNum, TcpFlags, TcpRepr,
};
use std::net::IpAddr;

use super::{ETH, IP4, IP6, TCP, TCP_TS};

/// The longest template: Ethernet, IPv6, TCP with the timestamp option.
const MAX_LEN: usize = ETH + IP6 + TCP_TS;
/// The bytes a slot holds: the longest IPv4 template. An IPv6 template keeps the rest
/// (`EXT` bytes) in [`Templates`]' side table, grown only when an IPv6 template is built, so
/// an IPv4-only stack does not pay for IPv6 room (with IPv6 flows, the table reaches the
/// highest index one had: 20 B per connection index below it).
const SLOT_LEN: usize = ETH + IP4 + TCP_TS;
/// What an IPv6 template holds beyond [`SLOT_LEN`].
pub const EXT: usize = MAX_LEN - SLOT_LEN;

/// Hop limit (IPv6) and TTL (IPv4) of our packets: Linux's default of 64.
pub const HOP_LIMIT: u8 = 64;

/// The IPv4 header every TCP segment of ours carries (TTL 64, DF, DSCP 0, the ECN field
/// `ecn`).
pub fn ipv4_repr(
    src: IpAddr,
    dst: IpAddr,
    payload_len: u16,
    ident: u16,
    ecn: Ecn,
) -> Option<Ipv4Repr> {
    match (src, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => Some(Ipv4Repr {
            src,
            dst,
            protocol: IpProtocol::Tcp,
            payload_len,
            ttl: HOP_LIMIT,
            ident,
            dont_frag: true,
            dscp_ecn: ecn.bits(),
        }),
        _ => None,
    }
}

/// The IPv6 header every TCP segment of ours carries (RFC 8200 §3: traffic class DSCP 0 and
/// the ECN field `ecn`, flow label 0, hop limit 64, no extension header). `None` unless both
/// addresses are IPv6.
pub fn ipv6_repr(src: IpAddr, dst: IpAddr, payload_len: u16, ecn: Ecn) -> Option<Ipv6Repr> {
    match (src, dst) {
        (IpAddr::V6(src), IpAddr::V6(dst)) => Some(Ipv6Repr {
            src,
            dst,
            next_header: IpProtocol::Tcp,
            payload_len,
            hop_limit: HOP_LIMIT,
            traffic_class: ecn.bits(),
            flow_label: 0,
        }),
        _ => None,
    }
}

/// The IP header length of a connection's packets.
pub fn ip_header_len(tuple: &FourTuple) -> usize {
    if tuple.is_ipv6() { IP6 } else { IP4 }
}

/// The IP header fields that change from segment to segment of a connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpFields {
    /// TCP header and payload bytes.
    pub l4_len: u16,
    /// IPv4 identification (ignored for IPv6).
    pub ident: u16,
    pub ecn: Ecn,
}

/// Writes Ethernet and IP headers (IPv4 checksum left zero) for a TCP segment into `head`,
/// returning the bytes written; the TCP header goes after them.
pub fn emit_l2_l3(
    head: &mut [u8],
    src: MacAddr,
    dst: MacAddr,
    tuple: &FourTuple,
    ip: IpFields,
) -> usize {
    let ethertype = if tuple.is_ipv6() {
        EtherType::Ipv6
    } else {
        EtherType::Ipv4
    };
    EthernetRepr {
        src,
        dst,
        ethertype,
    }
    .emit(&mut head[..ETH]);
    let (src, dst, f) = (tuple.local_ip, tuple.remote_ip, ip);
    if let Some(ip) = ipv4_repr(src, dst, f.l4_len, f.ident, f.ecn) {
        ip.emit(&mut head[ETH..ETH + IP4], false);
        return ETH + IP4;
    }
    if let Some(ip) = ipv6_repr(src, dst, f.l4_len, f.ecn) {
        ip.emit(&mut head[ETH..ETH + IP6]);
    }
    ETH + IP6
}

/// One connection's template. See the module documentation.
#[derive(Clone, Copy)]
pub struct HeaderTemplate {
    /// The first `SLOT_LEN` bytes (an IPv6 template's rest is in its `EXT` bytes).
    bytes: [u8; SLOT_LEN],
    /// Bytes in use; 0 until built.
    len: u8,
    /// Where the TCP header starts (Ethernet + IP header).
    l4: u8,
    flow: FlowId,
}

impl Default for HeaderTemplate {
    fn default() -> Self {
        HeaderTemplate {
            bytes: [0; SLOT_LEN],
            len: 0,
            l4: 0,
            flow: FlowId {
                index: u32::MAX,
                generation: u32::MAX,
            },
        }
    }
}

impl std::fmt::Debug for HeaderTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeaderTemplate")
            .field("len", &self.len)
            .field("flow", &self.flow)
            .finish()
    }
}

impl HeaderTemplate {
    /// The segment's header has the template's layout: no option but timestamps, no urgent
    /// pointer.
    pub fn fits(repr: &TcpRepr) -> bool {
        repr.mss.is_none()
            && repr.window_scale.is_none()
            && !repr.sack_permitted
            && repr.sack.is_empty()
            && repr.urgent == 0
    }

    /// The template was built for this flow, these addresses and this timestamp setting.
    #[inline]
    pub fn matches(&self, flow: FlowId, src: MacAddr, dst: MacAddr, ts: bool) -> bool {
        self.flow == flow
            && usize::from(self.len) == usize::from(self.l4) + Self::tcp_len(ts)
            && self.bytes[..6] == dst.0
            && self.bytes[6..12] == src.0
    }

    /// The TCP header length of a segment built from a template: with or without timestamps.
    #[inline]
    pub fn tcp_len(ts: bool) -> usize {
        if ts { TCP_TS } else { TCP }
    }

    /// Header bytes (Ethernet + IP + TCP) a segment built from the template has.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.len)
    }

    /// The Ethernet and IP part of [`HeaderTemplate::header_len`].
    #[inline]
    pub fn l4_offset(&self) -> usize {
        usize::from(self.l4)
    }

    /// (Re)builds the template with the generic emitters; an IPv6 template's bytes beyond
    /// `SLOT_LEN` go to `ext`.
    pub fn build(
        &mut self,
        ext: &mut [u8; EXT],
        flow: FlowId,
        (src, dst): (MacAddr, MacAddr),
        t: &FourTuple,
        ts: bool,
    ) {
        let mut all = [0u8; MAX_LEN];
        let b = &mut all;
        let l4 = emit_l2_l3(b, src, dst, t, IpFields::default());
        let tcp = TcpRepr {
            src_port: t.local_port,
            dst_port: t.remote_port,
            timestamps: ts.then_some((0, 0)),
            ..TcpRepr::default()
        };
        tcp.emit(&mut b[l4..]);
        let (main, rest) = all.split_at(SLOT_LEN);
        self.bytes.copy_from_slice(main);
        if t.is_ipv6() {
            ext.copy_from_slice(rest);
        }
        self.l4 = l4 as u8;
        self.len = (l4 + tcp.header_len()) as u8;
        self.flow = flow;
    }

    /// Writes the headers of `repr` into `head` (at least `header_len` bytes): the template,
    /// then the per-segment fields `ip`.
    /// Precondition: [`HeaderTemplate::fits`] and [`HeaderTemplate::matches`] hold for `repr`.
    #[inline]
    pub fn write(&self, ext: &[u8; EXT], head: &mut [u8], repr: &TcpRepr, ip: IpFields) {
        // One copy of a constant size per layout (no call to memcpy, no bounds check per
        // field); `build` makes only these four.
        const V4: usize = ETH + IP4;
        const V6: usize = ETH + IP6;
        match (usize::from(self.l4), usize::from(self.len)) {
            (V4, 54) => self.write_at::<V4, 54>(ext, head, repr, ip),
            (V4, 66) => self.write_at::<V4, 66>(ext, head, repr, ip),
            (V6, 74) => self.write_at::<V6, 74>(ext, head, repr, ip),
            (V6, 86) => self.write_at::<V6, 86>(ext, head, repr, ip),
            _ => {}
        }
    }

    #[inline(always)]
    fn write_at<const L4: usize, const LEN: usize>(
        &self,
        ext: &[u8; EXT],
        head: &mut [u8],
        repr: &TcpRepr,
        ip: IpFields,
    ) {
        let Some(h) = head.first_chunk_mut::<LEN>() else {
            return;
        };
        // Constant sizes: one copy from the slot, and for IPv6 one from its side bytes.
        let main = LEN.min(SLOT_LEN);
        h[..main].copy_from_slice(&self.bytes[..main]);
        if LEN > SLOT_LEN {
            h[SLOT_LEN..].copy_from_slice(&ext[..LEN - SLOT_LEN]);
        }
        let ecn = ip.ecn.bits();
        if L4 == ETH + IP4 {
            // The TOS byte: DSCP 0 from the template, the ECN field in its low bits.
            h[ETH + 1] = ecn;
            put16(h, ETH + 2, ip.l4_len.saturating_add(IP4 as u16));
            put16(h, ETH + 4, ip.ident);
        } else {
            // The traffic class's low nibble is the high nibble of the second byte (the flow
            // label, 0, fills the rest): its low two bits are the ECN field.
            h[ETH + 1] = ecn << 4;
            put16(h, ETH + 4, ip.l4_len);
        }
        put_seq(h, L4 + 4, repr.seq);
        put_seq(h, L4 + 8, repr.ack);
        h[L4 + 13] = TcpFlags::bits(repr.flags);
        put16(h, L4 + 14, repr.window);
        if LEN == L4 + TCP_TS {
            let (tsval, tsecr) = repr.timestamps.unwrap_or_default();
            put32(h, L4 + 24, tsval);
            put32(h, L4 + 28, tsecr);
        }
    }
}

#[inline(always)]
fn put32(h: &mut [u8], at: usize, v: u32) {
    h[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

#[inline(always)]
fn put16(h: &mut [u8], at: usize, v: u16) {
    h[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

#[inline(always)]
fn put_seq(h: &mut [u8], at: usize, v: SeqNum) {
    put32(h, at, v.0);
}

/// The templates of a stack's connections, indexed by [`FlowId::index`]; an IPv6 template's
/// last `EXT` bytes in `ext`, at the same index (grown only when an IPv6 template is built).
#[derive(Debug, Default)]
pub struct Templates {
    slots: Vec<HeaderTemplate>,
    ext: Vec<[u8; EXT]>,
    /// What an IPv4 slot is handed as its (unused) side bytes.
    scratch: [u8; EXT],
}

impl Templates {
    /// Room for flows `0..n` without reallocating (reserved, touched only when used).
    pub fn with_capacity(n: usize) -> Templates {
        Templates {
            slots: Vec::with_capacity(n),
            ext: Vec::new(),
            scratch: [0; EXT],
        }
    }

    /// The template of `flow`'s slot and its side bytes, if one was ever built there (it may
    /// be another connection's: check [`HeaderTemplate::matches`]).
    #[inline]
    pub fn get(&self, flow: FlowId) -> Option<(&HeaderTemplate, &[u8; EXT])> {
        let i = flow.index as usize;
        let t = self.slots.get(i)?;
        Some((t, self.ext.get(i).unwrap_or(&self.scratch)))
    }

    /// The template slot of `flow` (created empty on first use) and, for an IPv6 flow
    /// (`v6`), its side bytes.
    #[inline]
    pub fn slot(&mut self, flow: FlowId, v6: bool) -> (&mut HeaderTemplate, &mut [u8; EXT]) {
        let i = flow.index as usize;
        if i >= self.slots.len() {
            self.slots.resize(i + 1, HeaderTemplate::default());
        }
        if v6 && i >= self.ext.len() {
            self.ext.resize(i + 1, [0; EXT]);
        }
        let ext = match self.ext.get_mut(i) {
            Some(e) if v6 => e,
            _ => &mut self.scratch,
        };
        (&mut self.slots[i], ext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Ipv4Packet, Ipv6Packet};
    use std::net::{Ipv4Addr, Ipv6Addr};

    const SRC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const DST: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);
    const FLOW: FlowId = FlowId {
        index: 3,
        generation: 1,
    };

    fn tuple(v6: bool) -> FourTuple {
        if v6 {
            FourTuple::new(
                (Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1).into(), 40000),
                (Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2).into(), 7),
            )
        } else {
            FourTuple::new(
                (Ipv4Addr::new(10, 0, 0, 1).into(), 40000),
                (Ipv4Addr::new(10, 0, 0, 2).into(), 7),
            )
        }
    }

    /// What the generic emitters write for the same segment.
    fn generic(t: &FourTuple, repr: &TcpRepr, ip: IpFields) -> Vec<u8> {
        let mut b = vec![0u8; ETH + ip_header_len(t) + repr.header_len()];
        let l4 = emit_l2_l3(&mut b, SRC, DST, t, ip);
        repr.emit(&mut b[l4..]);
        b
    }

    #[test]
    fn same_bytes_as_the_generic_emitters() {
        for v6 in [false, true] {
            for ts in [None, Some((0x0102_0304, 0xa0b0_c0d0))] {
                let t = tuple(v6);
                let repr = TcpRepr {
                    src_port: 40000,
                    dst_port: 7,
                    seq: SeqNum(0xdead_beef),
                    ack: SeqNum(0x1234_5678),
                    flags: TcpFlags::ACK | TcpFlags::PSH,
                    window: 0xabcd,
                    timestamps: ts,
                    ..TcpRepr::default()
                };
                assert!(HeaderTemplate::fits(&repr));
                let mut tm = HeaderTemplate::default();
                let mut ext = [0u8; EXT];
                assert!(!tm.matches(FLOW, SRC, DST, ts.is_some()));
                tm.build(&mut ext, FLOW, (SRC, DST), &t, ts.is_some());
                assert!(tm.matches(FLOW, SRC, DST, ts.is_some()));
                assert!(!tm.matches(FLOW, DST, SRC, ts.is_some()));
                assert!(!tm.matches(FLOW, SRC, DST, ts.is_none()));
                let later = FlowId {
                    generation: 2,
                    ..FLOW
                };
                assert!(!tm.matches(later, SRC, DST, ts.is_some()));
                // Each codepoint in turn from the same template: a mark never sticks.
                for ecn in [Ecn::Ect0, Ecn::NotEct, Ecn::Ce, Ecn::Ect1, Ecn::NotEct] {
                    let ip = IpFields {
                        l4_len: repr.header_len() as u16 + 64,
                        ident: 77,
                        ecn,
                    };
                    let want = generic(&t, &repr, ip);
                    assert_eq!(tm.header_len(), want.len());
                    let mut got = vec![0xffu8; want.len()];
                    tm.write(&ext, &mut got, &repr, ip);
                    assert_eq!(got, want, "v6 {v6} timestamps {ts:?} {ecn:?}");
                    let field = match v6 {
                        false => Ipv4Packet::new_unchecked(&got[ETH..]).dscp_ecn(),
                        true => Ipv6Packet::new_unchecked(&got[ETH..]).traffic_class(),
                    };
                    assert_eq!(field, ecn.bits(), "DSCP 0 and the ECN field");
                }
            }
        }
    }

    #[test]
    fn segments_with_other_options_do_not_fit() {
        let base = TcpRepr::default();
        assert!(!HeaderTemplate::fits(&TcpRepr {
            mss: Some(1460),
            ..base
        }));
        assert!(!HeaderTemplate::fits(&TcpRepr {
            window_scale: Some(7),
            ..base
        }));
        assert!(!HeaderTemplate::fits(&TcpRepr {
            sack_permitted: true,
            ..base
        }));
        assert!(!HeaderTemplate::fits(&TcpRepr { urgent: 1, ..base }));
        let mut sack = TcpRepr::default();
        sack.sack.push((SeqNum(1), SeqNum(2)));
        assert!(!HeaderTemplate::fits(&sack));
    }
}
