//! A connection's header template: the Ethernet, IPv4 and TCP header bytes that are the same
//! in every segment of the connection, built once with the generic emitters and then copied
//! and patched per segment, instead of emitting every field of every header every time.
//!
//! Patched per segment: IPv4 total length and identification; TCP sequence and acknowledgment
//! numbers, flags, window and the timestamp values. Everything else (MAC addresses, addresses
//! and ports, TTL, DF, the data offset and the `NOP NOP TS` option layout of RFC 7323 appendix
//! A) comes from the template. Checksums are left zero, as by the generic path, for
//! `frame::send` to fill or offload.
//!
//! Preconditions (checked by [`HeaderTemplate::fits`] and [`HeaderTemplate::matches`]): the
//! segment carries no MSS, window-scale, SACK-permitted or SACK option and no urgent pointer
//! (every segment but the SYNs and those with SACK blocks), and the template was built for
//! the same MAC addresses and timestamp setting. Anything else takes the generic path, which
//! also rebuilds the template when the addresses changed. One template belongs to one
//! connection: its 4-tuple never changes.

use super::flow::FourTuple;
use crate::wire::{
    EtherType, EthernetRepr, IpProtocol, Ipv4Repr, MacAddr, SeqNum, TcpFlags, TcpRepr,
};

const ETH: usize = 14;
const IP: usize = 20;
const TCP: usize = 20;
/// `NOP NOP TS` (RFC 7323 appendix A).
const TS: usize = 12;
/// The longest template: Ethernet, IPv4 without options, TCP with the timestamp option.
const MAX_LEN: usize = ETH + IP + TCP + TS;
/// Without the timestamp option.
const BASE_LEN: usize = ETH + IP + TCP;

/// Byte offsets of the patched fields (RFC 791 §3.1, RFC 9293 §3.1, RFC 7323 §3.2).
mod at {
    use super::{ETH, IP};
    pub const IP_TOTAL_LEN: usize = ETH + 2;
    pub const IP_IDENT: usize = ETH + 4;
    pub const TCP: usize = ETH + IP;
    pub const SEQ: usize = TCP + 4;
    pub const ACK: usize = TCP + 8;
    pub const FLAGS: usize = TCP + 13;
    pub const WINDOW: usize = TCP + 14;
    pub const TSVAL: usize = TCP + 24;
    pub const TSECR: usize = TCP + 28;
}

/// The IPv4 header every TCP segment of ours carries (TTL 64, DF, no DSCP/ECN).
pub fn ipv4_repr(tuple: &FourTuple, payload_len: u16, ident: u16) -> Ipv4Repr {
    Ipv4Repr {
        src: tuple.local_ip,
        dst: tuple.remote_ip,
        protocol: IpProtocol::Tcp,
        payload_len,
        ttl: 64,
        ident,
        dont_frag: true,
        dscp_ecn: 0,
    }
}

/// See the module documentation.
#[derive(Clone, Copy)]
pub struct HeaderTemplate {
    bytes: [u8; MAX_LEN],
    /// Bytes in use: [`BASE_LEN`], or [`MAX_LEN`] with timestamps; 0 until built.
    len: u8,
}

impl Default for HeaderTemplate {
    fn default() -> Self {
        HeaderTemplate {
            bytes: [0; MAX_LEN],
            len: 0,
        }
    }
}

impl std::fmt::Debug for HeaderTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeaderTemplate")
            .field("len", &self.len)
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

    /// The template was built for these addresses and this timestamp setting.
    pub fn matches(&self, src: MacAddr, dst: MacAddr, ts: bool) -> bool {
        let want = if ts { MAX_LEN } else { BASE_LEN };
        usize::from(self.len) == want && self.bytes[..6] == dst.0 && self.bytes[6..12] == src.0
    }

    /// Header bytes (Ethernet + IPv4 + TCP) a segment built from the template has.
    pub fn header_len(ts: bool) -> usize {
        if ts { MAX_LEN } else { BASE_LEN }
    }

    /// (Re)builds the template with the generic emitters.
    pub fn build(&mut self, src: MacAddr, dst: MacAddr, tuple: &FourTuple, ts: bool) {
        let b = &mut self.bytes;
        b.fill(0);
        EthernetRepr {
            src,
            dst,
            ethertype: EtherType::Ipv4,
        }
        .emit(&mut b[..ETH]);
        ipv4_repr(tuple, 0, 0).emit(&mut b[ETH..ETH + IP], false);
        let tcp = TcpRepr {
            src_port: tuple.local_port,
            dst_port: tuple.remote_port,
            timestamps: ts.then_some((0, 0)),
            ..TcpRepr::default()
        };
        tcp.emit(&mut b[ETH + IP..]);
        self.len = Self::header_len(ts) as u8;
    }

    /// Writes the headers of `repr` into `head` (at least `len` bytes): the template, then the
    /// per-segment fields. `ip_payload_len` is the IPv4 payload (TCP header and data).
    /// Precondition: [`HeaderTemplate::fits`] and [`HeaderTemplate::matches`] hold for `repr`.
    pub fn write(&self, head: &mut [u8], repr: &TcpRepr, ident: u16, ip_payload_len: u16) {
        let h = &mut head[..usize::from(self.len)];
        h[..BASE_LEN].copy_from_slice(&self.bytes[..BASE_LEN]);
        let total = ip_payload_len.saturating_add(IP as u16);
        put16(h, at::IP_TOTAL_LEN, total);
        put16(h, at::IP_IDENT, ident);
        put_seq(h, at::SEQ, repr.seq);
        put_seq(h, at::ACK, repr.ack);
        h[at::FLAGS] = TcpFlags::bits(repr.flags);
        put16(h, at::WINDOW, repr.window);
        if h.len() == MAX_LEN {
            let (tsval, tsecr) = repr.timestamps.unwrap_or_default();
            h[BASE_LEN..at::TSVAL].copy_from_slice(&self.bytes[BASE_LEN..at::TSVAL]);
            h[at::TSVAL..at::TSVAL + 4].copy_from_slice(&tsval.to_be_bytes());
            h[at::TSECR..at::TSECR + 4].copy_from_slice(&tsecr.to_be_bytes());
        }
    }
}

fn put16(h: &mut [u8], at: usize, v: u16) {
    h[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

fn put_seq(h: &mut [u8], at: usize, v: SeqNum) {
    h[at..at + 4].copy_from_slice(&v.0.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const SRC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const DST: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);

    fn tuple() -> FourTuple {
        FourTuple::new(
            (Ipv4Addr::new(10, 0, 0, 1), 40000),
            (Ipv4Addr::new(10, 0, 0, 2), 7),
        )
    }

    /// What the generic emitters write for the same segment.
    fn generic(repr: &TcpRepr, ident: u16, payload: u16) -> Vec<u8> {
        let len = ETH + IP + repr.header_len();
        let mut b = vec![0u8; len];
        EthernetRepr {
            src: SRC,
            dst: DST,
            ethertype: EtherType::Ipv4,
        }
        .emit(&mut b[..ETH]);
        let ip_payload = repr.header_len() as u16 + payload;
        ipv4_repr(&tuple(), ip_payload, ident).emit(&mut b[ETH..ETH + IP], false);
        repr.emit(&mut b[ETH + IP..]);
        b
    }

    #[test]
    fn same_bytes_as_the_generic_emitters() {
        for ts in [None, Some((0x0102_0304, 0xa0b0_c0d0))] {
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
            let mut t = HeaderTemplate::default();
            assert!(!t.matches(SRC, DST, ts.is_some()));
            t.build(SRC, DST, &tuple(), ts.is_some());
            assert!(t.matches(SRC, DST, ts.is_some()));
            assert!(!t.matches(DST, SRC, ts.is_some()));
            assert!(!t.matches(SRC, DST, ts.is_none()));
            let want = generic(&repr, 77, 64);
            let mut got = vec![0xffu8; want.len()];
            t.write(&mut got, &repr, 77, repr.header_len() as u16 + 64);
            assert_eq!(got, want, "timestamps {ts:?}");
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
