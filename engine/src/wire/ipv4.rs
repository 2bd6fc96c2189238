//! IPv4 headers (RFC 791 §3.1), with the host requirements of RFC 1122 §3.2.1.
//!
//! Invariants of a checked packet: the buffer holds at least 20 bytes, the version is 4,
//! `20 <= header_len <= total_len <= buffer length`. The buffer may be longer than `total_len`
//! (Ethernet pads frames to 60 bytes): [`Ipv4Packet::payload`] ends at `total_len`, not at the
//! end of the buffer. Each violation has its own error, because the interface counts them apart.
//!
//! Options are skipped, not interpreted (RFC 1122 §3.2.1.8 lets a host ignore the ones it does
//! not implement); [`Ipv4Repr::emit`] writes a 20-byte header without options. Fragments are not
//! reassembled: [`Ipv4Repr::parse`] returns `Unsupported` for them.

use std::net::Ipv4Addr;

use super::checksum;
use super::{Error, Field, Result, read_ipv4, read_u16, write_ipv4, write_u16};

/// The IP protocol number: IPv4's "Protocol" (RFC 791 §3.1) and IPv6's "Next Header"
/// (RFC 8200 §3), one IANA registry. `From<u8>` and `u8::from` are inverse for every value.
///
/// The IPv6 extension headers (RFC 8200 §4) are in the same number space; the IPv6 layer walks
/// them ([`super::walk_ext_headers`]); the IPv4 layer treats them as unknown protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpProtocol {
    /// IPv6 Hop-by-Hop Options (0), RFC 8200 §4.3.
    HopByHop,
    Icmp,
    Tcp,
    Udp,
    /// IPv6 Routing header (43), RFC 8200 §4.4.
    Ipv6Route,
    /// IPv6 Fragment header (44), RFC 8200 §4.5.
    Ipv6Frag,
    /// ICMPv6 (58), RFC 4443.
    Icmpv6,
    /// IPv6 No Next Header (59), RFC 8200 §4.7.
    Ipv6NoNxt,
    /// IPv6 Destination Options (60), RFC 8200 §4.6.
    Ipv6Opts,
    Unknown(u8),
}

impl From<u8> for IpProtocol {
    fn from(v: u8) -> IpProtocol {
        match v {
            0 => IpProtocol::HopByHop,
            1 => IpProtocol::Icmp,
            6 => IpProtocol::Tcp,
            17 => IpProtocol::Udp,
            43 => IpProtocol::Ipv6Route,
            44 => IpProtocol::Ipv6Frag,
            58 => IpProtocol::Icmpv6,
            59 => IpProtocol::Ipv6NoNxt,
            60 => IpProtocol::Ipv6Opts,
            other => IpProtocol::Unknown(other),
        }
    }
}

impl From<IpProtocol> for u8 {
    fn from(p: IpProtocol) -> u8 {
        match p {
            IpProtocol::HopByHop => 0,
            IpProtocol::Icmp => 1,
            IpProtocol::Tcp => 6,
            IpProtocol::Udp => 17,
            IpProtocol::Ipv6Route => 43,
            IpProtocol::Ipv6Frag => 44,
            IpProtocol::Icmpv6 => 58,
            IpProtocol::Ipv6NoNxt => 59,
            IpProtocol::Ipv6Opts => 60,
            IpProtocol::Unknown(other) => other,
        }
    }
}

mod field {
    use super::Field;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const TOTAL_LEN: Field = 2..4;
    pub const IDENT: Field = 4..6;
    pub const FLAGS_FRAG: Field = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Field = 10..12;
    pub const SRC: Field = 12..16;
    pub const DST: Field = 16..20;
    pub const OPTIONS: usize = 20;
}

/// RFC 791 flags: bit 1 "Don't Fragment", bit 2 "More Fragments"; the offset is 13 bits of
/// 8-byte units.
const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const FRAG_OFFSET_MASK: u16 = 0x1fff;

/// A view of an IPv4 packet.
#[derive(Debug, Clone)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// The length of a header without options.
    pub const MIN_HEADER_LEN: usize = field::OPTIONS;

    /// Wraps a buffer without checks: getters may panic on a short or inconsistent buffer.
    pub const fn new_unchecked(buffer: T) -> Ipv4Packet<T> {
        Ipv4Packet { buffer }
    }

    /// Wraps a received buffer, checking every length the getters rely on.
    pub fn new_checked(buffer: T) -> Result<Ipv4Packet<T>> {
        let packet = Ipv4Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// In order: `Truncated` (under 20 bytes), `BadVersion`, `BadHeaderLen` (IHL < 5 or the
    /// header runs past the buffer), `BadTotalLen` (below the header length or past the buffer).
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < field::OPTIONS {
            return Err(Error::Truncated);
        }
        if self.version() != 4 {
            return Err(Error::BadVersion);
        }
        let header_len = self.header_len();
        if header_len < field::OPTIONS || header_len > len {
            return Err(Error::BadHeaderLen);
        }
        let total_len = usize::from(self.total_len());
        if total_len < header_len || total_len > len {
            return Err(Error::BadTotalLen);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// The header length in bytes (IHL × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// The DSCP and ECN bits (the former type-of-service byte).
    pub fn dscp_ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN]
    }

    pub fn total_len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::TOTAL_LEN)
    }

    pub fn ident(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::IDENT)
    }

    fn flags_frag(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::FLAGS_FRAG)
    }

    pub fn dont_frag(&self) -> bool {
        self.flags_frag() & FLAG_DF != 0
    }

    pub fn more_frags(&self) -> bool {
        self.flags_frag() & FLAG_MF != 0
    }

    /// The fragment offset in bytes (the field counts 8-byte units).
    pub fn frag_offset(&self) -> u16 {
        (self.flags_frag() & FRAG_OFFSET_MASK) << 3
    }

    /// Part of a fragmented datagram: More Fragments set or a non-zero offset (RFC 791 §3.2).
    pub fn is_fragment(&self) -> bool {
        self.flags_frag() & (FLAG_MF | FRAG_OFFSET_MASK) != 0
    }

    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    pub fn protocol(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[field::PROTOCOL])
    }

    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    pub fn src(&self) -> Ipv4Addr {
        read_ipv4(self.buffer.as_ref(), field::SRC)
    }

    pub fn dst(&self) -> Ipv4Addr {
        read_ipv4(self.buffer.as_ref(), field::DST)
    }

    /// The option bytes, between the fixed header and `header_len`.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS..self.header_len()]
    }

    /// The payload: from `header_len` to `total_len` (not to the end of the buffer).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..usize::from(self.total_len())]
    }

    /// The header checksum verifies (RFC 791: the sum over the header, checksum included, is
    /// all ones).
    pub fn verify_checksum(&self) -> bool {
        let header = &self.buffer.as_ref()[..self.header_len()];
        checksum::finish(checksum::sum(header, 0)) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    pub fn set_version(&mut self, version: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0x0f) | (version << 4);
    }

    /// Sets IHL to `len / 4` (`len` is a multiple of 4 between 20 and 60).
    pub fn set_header_len(&mut self, len: usize) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0xf0) | ((len / 4) as u8 & 0x0f);
    }

    pub fn set_dscp_ecn(&mut self, v: u8) {
        self.buffer.as_mut()[field::DSCP_ECN] = v;
    }

    pub fn set_total_len(&mut self, len: u16) {
        write_u16(self.buffer.as_mut(), field::TOTAL_LEN, len);
    }

    pub fn set_ident(&mut self, ident: u16) {
        write_u16(self.buffer.as_mut(), field::IDENT, ident);
    }

    /// Writes the flags and the fragment offset (in bytes; a multiple of 8) at once.
    pub fn set_flags_frag(&mut self, dont_frag: bool, more_frags: bool, frag_offset: u16) {
        let mut v = (frag_offset >> 3) & FRAG_OFFSET_MASK;
        if dont_frag {
            v |= FLAG_DF;
        }
        if more_frags {
            v |= FLAG_MF;
        }
        write_u16(self.buffer.as_mut(), field::FLAGS_FRAG, v);
    }

    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl;
    }

    pub fn set_protocol(&mut self, p: IpProtocol) {
        self.buffer.as_mut()[field::PROTOCOL] = p.into();
    }

    pub fn set_checksum(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    pub fn set_src(&mut self, addr: Ipv4Addr) {
        write_ipv4(self.buffer.as_mut(), field::SRC, addr);
    }

    pub fn set_dst(&mut self, addr: Ipv4Addr) {
        write_ipv4(self.buffer.as_mut(), field::DST, addr);
    }

    /// Computes and stores the header checksum over `header_len` bytes.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let header_len = self.header_len();
        let sum = checksum::sum(&self.buffer.as_ref()[..header_len], 0);
        self.set_checksum(checksum::finish(sum));
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let range = self.header_len()..usize::from(self.total_len());
        &mut self.buffer.as_mut()[range]
    }
}

/// An IPv4 header without options, as the engine sends and accepts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: IpProtocol,
    /// Bytes after the header (`total_len - header_len`).
    pub payload_len: u16,
    pub ttl: u8,
    pub ident: u16,
    pub dont_frag: bool,
    pub dscp_ecn: u8,
}

impl Ipv4Repr {
    /// Reads the header. Length errors as [`Ipv4Packet::check_len`]; `BadChecksum` if
    /// `verify_checksum` is set and the header checksum fails (leave it unset when the NIC has
    /// verified it); `Unsupported` for a fragment, since the engine does not reassemble.
    pub fn parse<T: AsRef<[u8]>>(
        packet: &Ipv4Packet<T>,
        verify_checksum: bool,
    ) -> Result<Ipv4Repr> {
        packet.check_len()?;
        // RFC 1122 §3.2.1.2: a host MUST verify the header checksum and silently discard a
        // datagram whose checksum is bad.
        if verify_checksum && !packet.verify_checksum() {
            return Err(Error::BadChecksum);
        }
        if packet.is_fragment() {
            return Err(Error::Unsupported);
        }
        // check_len guarantees header_len <= total_len <= 0xffff.
        let payload_len = packet.total_len() - packet.header_len() as u16;
        Ok(Ipv4Repr {
            src: packet.src(),
            dst: packet.dst(),
            protocol: packet.protocol(),
            payload_len,
            ttl: packet.ttl(),
            ident: packet.ident(),
            dont_frag: packet.dont_frag(),
            dscp_ecn: packet.dscp_ecn(),
        })
    }

    /// Always 20: the engine sends no IP options.
    pub const fn header_len(&self) -> usize {
        field::OPTIONS
    }

    pub const fn buffer_len(&self) -> usize {
        field::OPTIONS + self.payload_len as usize
    }

    /// Writes the 20-byte header at the start of `buf`, with the checksum computed when
    /// `fill_checksum` is set and 0 otherwise (for IPv4 checksum offload). The total length is
    /// `20 + payload_len`, saturating at 65535 (only a TSO template, whose length the NIC
    /// rewrites per segment, can exceed it).
    ///
    /// # Panics
    /// If `buf` is shorter than 20 bytes.
    pub fn emit(&self, buf: &mut [u8], fill_checksum: bool) {
        let mut packet = Ipv4Packet::new_unchecked(&mut buf[..field::OPTIONS]);
        packet.set_version(4);
        packet.set_header_len(field::OPTIONS);
        packet.set_dscp_ecn(self.dscp_ecn);
        packet.set_total_len(self.payload_len.saturating_add(field::OPTIONS as u16));
        packet.set_ident(self.ident);
        packet.set_flags_frag(self.dont_frag, false, 0);
        packet.set_ttl(self.ttl);
        packet.set_protocol(self.protocol);
        packet.set_src(self.src);
        packet.set_dst(self.dst);
        if fill_checksum {
            packet.fill_checksum();
        } else {
            packet.set_checksum(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The IPv4 header of a Linux `ping 10.0.0.2` (84-byte echo request), then 4 payload bytes.
    const PING_HEAD: [u8; 24] = [
        0x45, 0x00, 0x00, 0x54, 0xb3, 0xe4, 0x40, 0x00, 0x40, 0x01, 0x72, 0xc2, 0x0a, 0x00, 0x00,
        0x01, 0x0a, 0x00, 0x00, 0x02, 0x08, 0x00, 0xa4, 0x07,
    ];

    fn ping() -> Vec<u8> {
        let mut p = PING_HEAD.to_vec();
        p.resize(84, 0);
        p
    }

    #[test]
    fn parses_a_real_header() {
        let buf = ping();
        let packet = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(packet.version(), 4);
        assert_eq!(packet.header_len(), 20);
        assert_eq!(packet.total_len(), 84);
        assert_eq!(packet.ident(), 0xb3e4);
        assert!(packet.dont_frag() && !packet.more_frags() && !packet.is_fragment());
        assert_eq!(packet.frag_offset(), 0);
        assert_eq!(packet.ttl(), 64);
        assert_eq!(packet.protocol(), IpProtocol::Icmp);
        assert_eq!(packet.checksum(), 0x72c2);
        assert!(packet.verify_checksum());
        assert_eq!(packet.src(), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(packet.dst(), Ipv4Addr::new(10, 0, 0, 2));
        assert!(packet.options().is_empty());
        assert_eq!(packet.payload().len(), 64);
        let repr = Ipv4Repr::parse(&packet, true).unwrap();
        assert_eq!(repr.payload_len, 64);
        let mut out = ping();
        out[..20].fill(0);
        repr.emit(&mut out, true);
        assert_eq!(out[..20], PING_HEAD[..20]);
    }

    #[test]
    fn length_errors_are_distinct() {
        let good = ping();
        assert_eq!(
            Ipv4Packet::new_checked(&good[..19]).unwrap_err(),
            Error::Truncated
        );
        let cases: [(usize, u8, Error); 5] = [
            (0, 0x65, Error::BadVersion),
            (0, 0x44, Error::BadHeaderLen),
            (0, 0x4f, Error::BadHeaderLen), // 60 bytes of header in a 40-byte buffer
            (3, 0x13, Error::BadTotalLen),  // total 19 < header 20
            (2, 0x01, Error::BadTotalLen),  // total 0x128 > buffer
        ];
        for (at, value, err) in cases {
            let mut p = good[..40].to_vec();
            p[2..4].copy_from_slice(&40u16.to_be_bytes());
            p[at] = value;
            assert_eq!(
                Ipv4Packet::new_checked(&p[..]).unwrap_err(),
                err,
                "byte {at}={value:#x}"
            );
        }
        // Ethernet padding after total_len is fine and excluded from the payload.
        let mut padded = good.clone();
        padded.extend_from_slice(&[0; 6]);
        assert_eq!(
            Ipv4Packet::new_checked(&padded[..])
                .unwrap()
                .payload()
                .len(),
            64
        );
    }

    #[test]
    fn checksum_and_fragments() {
        let mut buf = ping();
        buf[8] = 63;
        let packet = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Ipv4Repr::parse(&packet, true), Err(Error::BadChecksum));
        assert!(Ipv4Repr::parse(&packet, false).is_ok());
        let mut packet = Ipv4Packet::new_checked(&mut buf[..]).unwrap();
        packet.set_flags_frag(false, false, 1480);
        packet.fill_checksum();
        assert!(packet.is_fragment() && packet.frag_offset() == 1480);
        assert_eq!(Ipv4Repr::parse(&packet, true), Err(Error::Unsupported));
        packet.set_flags_frag(true, true, 0);
        assert!(packet.is_fragment() && packet.more_frags() && packet.dont_frag());
    }

    #[test]
    fn protocol_numbers_convert_both_ways() {
        for v in 0..=255u8 {
            assert_eq!(u8::from(IpProtocol::from(v)), v);
        }
        assert_eq!(IpProtocol::from(58), IpProtocol::Icmpv6);
        assert_eq!(IpProtocol::from(44), IpProtocol::Ipv6Frag);
        assert_eq!(IpProtocol::from(2), IpProtocol::Unknown(2));
    }

    #[test]
    fn options_are_skipped_and_offload_leaves_zero() {
        let repr = Ipv4Repr {
            src: Ipv4Addr::new(192, 168, 1, 1),
            dst: Ipv4Addr::new(192, 168, 1, 2),
            protocol: IpProtocol::Tcp,
            payload_len: 8,
            ttl: 64,
            ident: 1,
            dont_frag: true,
            dscp_ecn: 0,
        };
        let mut buf = [0u8; 32];
        repr.emit(&mut buf, false);
        assert_eq!(Ipv4Packet::new_unchecked(&buf[..]).checksum(), 0);
        // Grow the header by one word of NOP options and move the payload along.
        buf.copy_within(20..28, 24);
        buf[20..24].copy_from_slice(&[1, 1, 1, 0]);
        let mut packet = Ipv4Packet::new_unchecked(&mut buf[..]);
        packet.set_header_len(24);
        packet.set_total_len(32);
        packet.fill_checksum();
        let packet = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(packet.options(), &[1, 1, 1, 0]);
        assert_eq!(packet.payload().len(), 8);
        assert_eq!(Ipv4Repr::parse(&packet, true), Ok(repr));
    }
}
