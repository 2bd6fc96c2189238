//! IPv6 fixed headers (RFC 8200 §3): version, traffic class, flow label, payload length, next
//! header, hop limit, source and destination, 40 bytes with no checksum (RFC 8200 §8.1 leaves it
//! to the upper layers' pseudo-header). Extension headers are walked in `ipv6_ext.rs`.
//!
//! Invariants of a checked packet: the buffer holds at least 40 bytes, the version is 6, and
//! `40 + payload_len <= buffer length`. The buffer may be longer (Ethernet pads frames to 60
//! bytes): [`Ipv6Packet::payload`] ends at `40 + payload_len`. The errors follow Linux's
//! `ip6_rcv_core`, so the IP layer can count them as Linux does: `Truncated` (under 40 bytes) and
//! `BadVersion` are `Ip6InHdrErrors`; `BadTotalLen` (the payload runs past the buffer) is
//! `Ip6InTruncatedPkts`.
//!
//! Not handled here, and the IP layer's business: jumbograms (RFC 2675: payload length 0 with a
//! Jumbo Payload option) are not supported, so a zero payload length is taken literally; the
//! address checks of `ip6_rcv_core` are offered by [`Ipv6Repr::check_addrs`].

use std::net::Ipv6Addr;

use super::ipv4::IpProtocol;
use super::ipv6_ext::{ExtHeaderError, Ipv6ExtHeaders, walk_ext_headers};
use super::{
    Error, Field, Result, read_ipv6, read_u16, read_u32, write_ipv6, write_u16, write_u32,
};

mod field {
    use super::Field;
    /// Version (4 bits), traffic class (8 bits), flow label (20 bits).
    pub const VER_TC_FLOW: Field = 0..4;
    pub const PAYLOAD_LEN: Field = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Field = 8..24;
    pub const DST: Field = 24..40;
    pub const PAYLOAD: usize = 40;
}

/// The 20 low bits of the first word (RFC 8200 §3 "Flow Label", RFC 6437).
const FLOW_LABEL_MASK: u32 = 0x000f_ffff;

/// A view of an IPv6 packet.
#[derive(Debug, Clone)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// The fixed header is always 40 bytes (RFC 8200 §3).
    pub const HEADER_LEN: usize = field::PAYLOAD;
    /// The offset of the Next Header field, which an ICMPv6 Parameter Problem can point at.
    pub const NEXT_HEADER_OFFSET: usize = field::NEXT_HEADER;

    /// Wraps a buffer without checks: getters may panic on a short or inconsistent buffer.
    pub const fn new_unchecked(buffer: T) -> Ipv6Packet<T> {
        Ipv6Packet { buffer }
    }

    /// Wraps a received buffer, checking every length the getters rely on.
    pub fn new_checked(buffer: T) -> Result<Ipv6Packet<T>> {
        let packet = Ipv6Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// In order: `Truncated` (under 40 bytes), `BadVersion` (not 6), `BadTotalLen` (the payload
    /// length runs past the buffer), as Linux's `ip6_rcv_core` checks them.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < field::PAYLOAD {
            return Err(Error::Truncated);
        }
        if self.version() != 6 {
            return Err(Error::BadVersion);
        }
        if field::PAYLOAD + usize::from(self.payload_len()) > len {
            return Err(Error::BadTotalLen);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn first_word(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::VER_TC_FLOW)
    }

    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    /// The traffic class: DSCP in the six high bits, ECN in the two low ones (RFC 8200 §7,
    /// RFC 2474, RFC 3168 §5).
    pub fn traffic_class(&self) -> u8 {
        (self.first_word() >> 20) as u8
    }

    /// The 20-bit flow label (RFC 6437).
    pub fn flow_label(&self) -> u32 {
        self.first_word() & FLOW_LABEL_MASK
    }

    /// The bytes after the fixed header, extension headers included (RFC 8200 §3).
    pub fn payload_len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::PAYLOAD_LEN)
    }

    /// The first extension header or the upper-layer protocol.
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[field::NEXT_HEADER])
    }

    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    pub fn src(&self) -> Ipv6Addr {
        read_ipv6(self.buffer.as_ref(), field::SRC)
    }

    pub fn dst(&self) -> Ipv6Addr {
        read_ipv6(self.buffer.as_ref(), field::DST)
    }

    /// The payload: from byte 40 to `40 + payload_len` (not to the end of the buffer).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..field::PAYLOAD + usize::from(self.payload_len())]
    }

    /// Walks the extension headers of the payload (see [`walk_ext_headers`]).
    pub fn ext_headers(&self) -> core::result::Result<Ipv6ExtHeaders, ExtHeaderError> {
        walk_ext_headers(self.next_header(), self.payload())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    fn set_first_word(&mut self, word: u32) {
        write_u32(self.buffer.as_mut(), field::VER_TC_FLOW, word);
    }

    pub fn set_version(&mut self, version: u8) {
        let word = (self.first_word() & 0x0fff_ffff) | (u32::from(version & 0x0f) << 28);
        self.set_first_word(word);
    }

    pub fn set_traffic_class(&mut self, tc: u8) {
        let word = (self.first_word() & 0xf00f_ffff) | (u32::from(tc) << 20);
        self.set_first_word(word);
    }

    /// Stores the low 20 bits of `label`.
    pub fn set_flow_label(&mut self, label: u32) {
        let word = (self.first_word() & !FLOW_LABEL_MASK) | (label & FLOW_LABEL_MASK);
        self.set_first_word(word);
    }

    pub fn set_payload_len(&mut self, len: u16) {
        write_u16(self.buffer.as_mut(), field::PAYLOAD_LEN, len);
    }

    pub fn set_next_header(&mut self, p: IpProtocol) {
        self.buffer.as_mut()[field::NEXT_HEADER] = p.into();
    }

    pub fn set_hop_limit(&mut self, hop_limit: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = hop_limit;
    }

    pub fn set_src(&mut self, addr: &Ipv6Addr) {
        write_ipv6(self.buffer.as_mut(), field::SRC, addr);
    }

    pub fn set_dst(&mut self, addr: &Ipv6Addr) {
        write_ipv6(self.buffer.as_mut(), field::DST, addr);
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = field::PAYLOAD + usize::from(self.payload_len());
        &mut self.buffer.as_mut()[field::PAYLOAD..end]
    }
}

/// An IPv6 fixed header. `next_header` names what follows it: an extension header or the
/// upper-layer protocol (the engine sends no extension headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Repr {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub next_header: IpProtocol,
    /// Bytes after the fixed header, extension headers included.
    pub payload_len: u16,
    pub hop_limit: u8,
    /// DSCP (six high bits) and ECN (two low bits), RFC 8200 §7, RFC 3168 §5.
    pub traffic_class: u8,
    /// 20 bits (RFC 6437); `emit` writes the low 20 bits of the field.
    pub flow_label: u32,
}

impl Ipv6Repr {
    /// Reads the fixed header. Errors as [`Ipv6Packet::check_len`]; nothing else is refused
    /// (there is no checksum, and extension headers are [`walk_ext_headers`]'s).
    pub fn parse<T: AsRef<[u8]>>(packet: &Ipv6Packet<T>) -> Result<Ipv6Repr> {
        packet.check_len()?;
        Ok(Ipv6Repr {
            src: packet.src(),
            dst: packet.dst(),
            next_header: packet.next_header(),
            payload_len: packet.payload_len(),
            hop_limit: packet.hop_limit(),
            traffic_class: packet.traffic_class(),
            flow_label: packet.flow_label(),
        })
    }

    /// Always 40 (RFC 8200 §3).
    pub const fn header_len(&self) -> usize {
        field::PAYLOAD
    }

    pub const fn buffer_len(&self) -> usize {
        field::PAYLOAD + self.payload_len as usize
    }

    /// Writes the 40-byte header at the start of `buf`.
    ///
    /// # Panics
    /// If `buf` is shorter than 40 bytes.
    pub fn emit(&self, buf: &mut [u8]) {
        let mut packet = Ipv6Packet::new_unchecked(&mut buf[..field::PAYLOAD]);
        packet.set_first_word(0);
        packet.set_version(6);
        packet.set_traffic_class(self.traffic_class);
        packet.set_flow_label(self.flow_label);
        packet.set_payload_len(self.payload_len);
        packet.set_next_header(self.next_header);
        packet.set_hop_limit(self.hop_limit);
        packet.set_src(&self.src);
        packet.set_dst(&self.dst);
    }

    /// The address checks Linux's `ip6_rcv_core` makes before anything else, all
    /// `Ip6InHdrErrors` there; `Malformed` if one fails:
    /// - the source is not multicast (RFC 4291 §2.7: "must not be used as source addresses");
    /// - neither address is the loopback address, which "must never be sent outside a single
    ///   node" (RFC 4291 §2.5.3), nor an IPv4-mapped address (RFC 4291 §2.5.5.2; RFC 4942
    ///   §2.2.1), as neither belongs on a link;
    /// - a multicast destination does not have the reserved scope 0, which "must be silently
    ///   dropped", nor interface-local scope 1, which is "only for loopback" (RFC 4291 §2.7).
    pub fn check_addrs(&self) -> Result<()> {
        let bogus = |a: &Ipv6Addr| a.is_loopback() || a.to_ipv4_mapped().is_some();
        let dst_scope = self.dst.octets()[1] & 0x0f;
        if self.src.is_multicast()
            || bogus(&self.src)
            || bogus(&self.dst)
            || (self.dst.is_multicast() && dst_scope <= 1)
        {
            return Err(Error::Malformed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::hex;
    use super::*;

    /// The IPv6 header of a Linux `ping -6 fd00::2` echo request (flow label 0x005c6, hop limit
    /// 64, 64 bytes of ICMPv6), then the ICMPv6 type and code.
    fn linux_ping() -> Vec<u8> {
        let mut p = hex("600005c6 00403a40 fd000000000000000000000000000001
                         fd000000000000000000000000000002 8000");
        p.resize(40 + 64, 0);
        p
    }

    #[test]
    fn parses_a_real_header() {
        let buf = linux_ping();
        let packet = Ipv6Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(packet.version(), 6);
        assert_eq!(packet.traffic_class(), 0);
        assert_eq!(packet.flow_label(), 0x005c6);
        assert_eq!(packet.payload_len(), 64);
        assert_eq!(packet.next_header(), IpProtocol::Icmpv6);
        assert_eq!(packet.hop_limit(), 64);
        assert_eq!(packet.src(), "fd00::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(packet.dst(), "fd00::2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(packet.payload().len(), 64);
        let repr = Ipv6Repr::parse(&packet).unwrap();
        assert_eq!(repr.buffer_len(), buf.len());
        let mut out = vec![0xffu8; 40];
        repr.emit(&mut out);
        assert_eq!(out, buf[..40]);
    }

    #[test]
    fn traffic_class_and_flow_label_share_a_word() {
        let mut buf = linux_ping();
        let mut packet = Ipv6Packet::new_unchecked(&mut buf[..]);
        packet.set_traffic_class(0xb9); // DSCP 46 (EF), ECN 01 (ECT(1))
        packet.set_flow_label(0xfff_ffff);
        assert_eq!(packet.version(), 6);
        assert_eq!(packet.traffic_class(), 0xb9);
        assert_eq!(packet.flow_label(), 0xf_ffff);
        assert_eq!(buf[..4], [0x6b, 0x9f, 0xff, 0xff]);
    }

    #[test]
    fn length_errors_are_distinct() {
        let good = linux_ping();
        assert_eq!(
            Ipv6Packet::new_checked(&good[..39]).unwrap_err(),
            Error::Truncated
        );
        let mut v4 = good.clone();
        v4[0] = 0x45;
        assert_eq!(
            Ipv6Packet::new_checked(&v4[..]).unwrap_err(),
            Error::BadVersion
        );
        assert_eq!(
            Ipv6Packet::new_checked(&good[..103]).unwrap_err(),
            Error::BadTotalLen
        );
        let unchecked = Ipv6Packet::new_unchecked(&good[..50]);
        assert_eq!(Ipv6Repr::parse(&unchecked), Err(Error::BadTotalLen));
        // Padding after the payload is fine and left out of it.
        let mut padded = good.clone();
        padded.extend_from_slice(&[0; 6]);
        let packet = Ipv6Packet::new_checked(&padded[..]).unwrap();
        assert_eq!(packet.payload().len(), 64);
        // A zero payload length is taken literally (no jumbograms).
        let mut empty = good[..40].to_vec();
        empty[4..6].fill(0);
        assert!(
            Ipv6Packet::new_checked(&empty[..])
                .unwrap()
                .payload()
                .is_empty()
        );
    }

    #[test]
    fn address_checks() {
        let repr = Ipv6Repr::parse(&Ipv6Packet::new_checked(&linux_ping()[..]).unwrap()).unwrap();
        assert_eq!(repr.check_addrs(), Ok(()));
        let a = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        for (src, dst, ok) in [
            ("fe80::1", "ff02::1", true),
            ("::", "ff02::1:ff00:2", true),
            ("ff02::1", "fd00::2", false),
            ("::1", "fd00::2", false),
            ("fd00::1", "::1", false),
            ("::ffff:10.0.0.1", "fd00::2", false),
            ("fd00::1", "::ffff:10.0.0.2", false),
            ("fd00::1", "ff00::1", false),
            ("fd00::1", "ff01::1", false),
            ("fd00::1", "ff05::1", true),
        ] {
            let r = Ipv6Repr {
                src: a(src),
                dst: a(dst),
                ..repr
            };
            assert_eq!(r.check_addrs().is_ok(), ok, "{src} > {dst}");
        }
    }
}
