//! ICMPv6 messages (RFC 4443): type, code, checksum, then a message body; the checksum covers
//! the IPv6 pseudo-header and the whole message (RFC 4443 §2.3, RFC 8200 §8.1), unlike ICMPv4.
//!
//! The view's buffer is the upper-layer part of the IPv6 payload (after any extension headers,
//! bounded by the payload length), so the message ends where the buffer ends. Invariant of a
//! checked packet: at least 8 bytes, the header every message this engine knows has (Linux's
//! `icmpv6_rcv` also pulls 8). Type-specific lengths are checked by the reprs.
//!
//! [`Icmpv6Repr`] carries no data: an echo's data and an error's invoking packet stay in the
//! buffer, at [`Icmpv6Packet::HEADER_LEN`] for `data_len` bytes ([`Icmpv6Repr::invoking_packet`]).
//! Neighbor Discovery messages (types 133 to 137) are read and written by [`NdpRepr`] in
//! `ndp.rs`. Multicast Listener Discovery (130 to 132, 143) is parsed as `Other`.
//!
//! The engine answers pings by rewriting the request in place
//! ([`Icmpv6Packet::echo_request_to_reply`], an RFC 1624 incremental update).

use std::net::Ipv6Addr;
use std::ops::Range;

use super::checksum;
use super::ndp::NdpRepr;
use super::{Error, Field, Result, read_u16, read_u32, write_u16, write_u32};

/// The IP protocol number of ICMPv6 (RFC 4443 §1), for the pseudo-header.
const PROTOCOL_ICMPV6: u8 = 58;

/// The ICMPv6 message type (RFC 4443 §2.1, RFC 4861 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Icmpv6Type {
    DstUnreachable,
    PacketTooBig,
    TimeExceeded,
    ParamProblem,
    EchoRequest,
    EchoReply,
    RouterSolicit,
    RouterAdvert,
    NeighborSolicit,
    NeighborAdvert,
    Redirect,
    Unknown(u8),
}

impl Icmpv6Type {
    /// Types 0 to 127 are errors, 128 to 255 informational (RFC 4443 §2.1).
    pub fn is_error(self) -> bool {
        u8::from(self) < 128
    }
}

impl From<u8> for Icmpv6Type {
    fn from(v: u8) -> Icmpv6Type {
        match v {
            1 => Icmpv6Type::DstUnreachable,
            2 => Icmpv6Type::PacketTooBig,
            3 => Icmpv6Type::TimeExceeded,
            4 => Icmpv6Type::ParamProblem,
            128 => Icmpv6Type::EchoRequest,
            129 => Icmpv6Type::EchoReply,
            133 => Icmpv6Type::RouterSolicit,
            134 => Icmpv6Type::RouterAdvert,
            135 => Icmpv6Type::NeighborSolicit,
            136 => Icmpv6Type::NeighborAdvert,
            137 => Icmpv6Type::Redirect,
            other => Icmpv6Type::Unknown(other),
        }
    }
}

impl From<Icmpv6Type> for u8 {
    fn from(t: Icmpv6Type) -> u8 {
        match t {
            Icmpv6Type::DstUnreachable => 1,
            Icmpv6Type::PacketTooBig => 2,
            Icmpv6Type::TimeExceeded => 3,
            Icmpv6Type::ParamProblem => 4,
            Icmpv6Type::EchoRequest => 128,
            Icmpv6Type::EchoReply => 129,
            Icmpv6Type::RouterSolicit => 133,
            Icmpv6Type::RouterAdvert => 134,
            Icmpv6Type::NeighborSolicit => 135,
            Icmpv6Type::NeighborAdvert => 136,
            Icmpv6Type::Redirect => 137,
            Icmpv6Type::Unknown(other) => other,
        }
    }
}

/// The codes of the error messages (RFC 4443 §3; RFC 7112 §7 for the incomplete header chain).
pub mod code {
    /// Destination Unreachable (RFC 4443 §3.1).
    pub const NO_ROUTE: u8 = 0;
    pub const ADMIN_PROHIBITED: u8 = 1;
    pub const BEYOND_SCOPE: u8 = 2;
    pub const ADDR_UNREACHABLE: u8 = 3;
    pub const PORT_UNREACHABLE: u8 = 4;
    /// Time Exceeded (RFC 4443 §3.3).
    pub const HOP_LIMIT_EXCEEDED: u8 = 0;
    pub const REASSEMBLY_TIME_EXCEEDED: u8 = 1;
    /// Parameter Problem (RFC 4443 §3.4).
    pub const ERRONEOUS_HEADER_FIELD: u8 = 0;
    pub const UNRECOGNIZED_NEXT_HEADER: u8 = 1;
    pub const UNRECOGNIZED_OPTION: u8 = 2;
    pub const INCOMPLETE_HEADER_CHAIN: u8 = 3;
}

mod field {
    use super::Field;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const TYPE_CODE: Field = 0..2;
    pub const CHECKSUM: Field = 2..4;
    /// The four type-specific bytes after the checksum.
    pub const REST: Field = 4..8;
    pub const ECHO_IDENT: Field = 4..6;
    pub const ECHO_SEQ: Field = 6..8;
    /// RFC 4443 §3.2 (Packet Too Big) and §3.4 (Parameter Problem).
    pub const MTU: Field = 4..8;
    pub const POINTER: Field = 4..8;
    pub const DATA: usize = 8;
}

/// A view of an ICMPv6 message.
#[derive(Debug, Clone)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    pub const HEADER_LEN: usize = field::DATA;

    /// Wraps a buffer without checks: getters panic if it is shorter than 8 bytes.
    pub const fn new_unchecked(buffer: T) -> Icmpv6Packet<T> {
        Icmpv6Packet { buffer }
    }

    /// Wraps a received message, checking it holds the 8-byte header.
    pub fn new_checked(buffer: T) -> Result<Icmpv6Packet<T>> {
        let packet = Icmpv6Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// `Truncated` if the buffer is shorter than 8 bytes.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < field::DATA {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The whole message, for `ndp.rs`.
    pub(super) fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn msg_type(&self) -> Icmpv6Type {
        Icmpv6Type::from(self.buffer.as_ref()[field::TYPE])
    }

    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The identifier of an echo request or reply (RFC 4443 §4.1).
    pub fn echo_ident(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ECHO_IDENT)
    }

    /// The sequence number of an echo request or reply.
    pub fn echo_seq_no(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ECHO_SEQ)
    }

    /// The MTU of a Packet Too Big (RFC 4443 §3.2).
    pub fn mtu(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::MTU)
    }

    /// The pointer of a Parameter Problem: the offending byte's offset in the invoking packet
    /// (RFC 4443 §3.4).
    pub fn pointer(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::POINTER)
    }

    /// The four type-specific bytes after the checksum as one number.
    pub fn rest_of_header(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::REST)
    }

    /// Everything after the 8-byte header: an echo's data, an error's invoking packet.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[field::DATA..]
    }

    /// The pseudo-header sum for this message between `src` and `dst` (RFC 8200 §8.1; the
    /// length is the whole buffer's).
    pub fn pseudo_header(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> u32 {
        let len = u32::try_from(self.buffer.as_ref().len()).unwrap_or(u32::MAX);
        checksum::pseudo_header_v6(src, dst, PROTOCOL_ICMPV6, len)
    }

    /// The checksum over `pseudo_sum` (see [`Icmpv6Packet::pseudo_header`]) and the whole
    /// message verifies (RFC 4443 §2.3).
    pub fn verify_checksum(&self, pseudo_sum: u32) -> bool {
        checksum::finish(checksum::sum(self.buffer.as_ref(), pseudo_sum)) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
    /// The whole message, for `ndp.rs`.
    pub(super) fn bytes_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    pub fn set_msg_type(&mut self, t: Icmpv6Type) {
        self.buffer.as_mut()[field::TYPE] = t.into();
    }

    pub fn set_code(&mut self, code: u8) {
        self.buffer.as_mut()[field::CODE] = code;
    }

    pub fn set_checksum(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    pub fn set_echo_ident(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::ECHO_IDENT, v);
    }

    pub fn set_echo_seq_no(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::ECHO_SEQ, v);
    }

    /// Writes the four type-specific bytes (MTU, pointer, echo identifier and sequence).
    pub fn set_rest_of_header(&mut self, v: u32) {
        write_u32(self.buffer.as_mut(), field::REST, v);
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::DATA..]
    }

    /// Computes and stores the checksum over `pseudo_sum` and the whole buffer.
    pub fn fill_checksum(&mut self, pseudo_sum: u32) {
        self.set_checksum(0);
        let sum = checksum::sum(self.buffer.as_ref(), pseudo_sum);
        self.set_checksum(checksum::finish(sum));
    }

    /// Turns an echo request into the matching echo reply in place: type 129, identifier,
    /// sequence number and data kept (RFC 4443 §4.2). The checksum is updated incrementally
    /// (RFC 1624 eqn. 3) for the type change alone: the reply's pseudo-header has source and
    /// destination swapped, which leaves its sum unchanged since addition commutes. So a
    /// request whose checksum verified gives a reply whose checksum verifies, as long as the
    /// reply goes from the request's destination to its source; a reply to a multicast request
    /// comes from a unicast address instead (RFC 4443 §4.2), and then the caller refills the
    /// checksum ([`Icmpv6Packet::fill_checksum`]). `Truncated` below 8 bytes, `Unsupported` for anything but an echo
    /// request with code 0; the buffer is then left untouched.
    pub fn echo_request_to_reply(&mut self) -> Result<()> {
        self.check_len()?;
        if self.msg_type() != Icmpv6Type::EchoRequest || self.code() != 0 {
            return Err(Error::Unsupported);
        }
        let old_word = read_u16(self.buffer.as_ref(), field::TYPE_CODE);
        self.set_msg_type(Icmpv6Type::EchoReply);
        let new_word = read_u16(self.buffer.as_ref(), field::TYPE_CODE);
        let updated = checksum::update(self.checksum(), old_word, new_word);
        self.set_checksum(updated);
        Ok(())
    }
}

/// An ICMPv6 message header; echo data and invoking packets stay in the buffer (`data_len`
/// bytes after the 8-byte header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv6Repr {
    EchoRequest {
        ident: u16,
        seq_no: u16,
        data_len: usize,
    },
    EchoReply {
        ident: u16,
        seq_no: u16,
        data_len: usize,
    },
    /// RFC 4443 §3.1; the four bytes after the checksum are unused.
    DstUnreachable { code: u8, data_len: usize },
    /// RFC 4443 §3.2; the code is 0 and ignored on receipt.
    PacketTooBig { mtu: u32, data_len: usize },
    /// RFC 4443 §3.3; the four bytes after the checksum are unused.
    TimeExceeded { code: u8, data_len: usize },
    /// RFC 4443 §3.4.
    ParamProblem {
        code: u8,
        pointer: u32,
        data_len: usize,
    },
    /// Router and Neighbor Discovery (RFC 4861 §4), code 0.
    Ndp(NdpRepr),
    /// Any other message (including an echo with a non-zero code), kept verbatim.
    Other {
        msg_type: u8,
        code: u8,
        rest_of_header: u32,
        data_len: usize,
    },
}

impl Icmpv6Repr {
    /// The most invoking-packet bytes an error carries: the message must fit the minimum MTU
    /// of 1280 bytes with the 40-byte IPv6 header (RFC 4443 §2.4 (c)).
    pub const MAX_ERROR_DATA_LEN: usize = 1280 - 40 - field::DATA;

    /// Reads the message. `Truncated` below 8 bytes; `BadChecksum` if `verify_checksum` is set
    /// and the checksum over the pseudo-header of `src` and `dst` and the message fails
    /// (RFC 4443 §2.3); Neighbor Discovery errors as [`NdpRepr::parse`].
    pub fn parse<T: AsRef<[u8]>>(
        packet: &Icmpv6Packet<T>,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
        verify_checksum: bool,
    ) -> Result<Icmpv6Repr> {
        packet.check_len()?;
        if verify_checksum && !packet.verify_checksum(packet.pseudo_header(src, dst)) {
            return Err(Error::BadChecksum);
        }
        let data_len = packet.data().len();
        let (ident, seq_no) = (packet.echo_ident(), packet.echo_seq_no());
        Ok(match (packet.msg_type(), packet.code()) {
            (Icmpv6Type::EchoRequest, 0) => Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data_len,
            },
            (Icmpv6Type::EchoReply, 0) => Icmpv6Repr::EchoReply {
                ident,
                seq_no,
                data_len,
            },
            (Icmpv6Type::DstUnreachable, code) => Icmpv6Repr::DstUnreachable { code, data_len },
            (Icmpv6Type::PacketTooBig, _) => Icmpv6Repr::PacketTooBig {
                mtu: packet.mtu(),
                data_len,
            },
            (Icmpv6Type::TimeExceeded, code) => Icmpv6Repr::TimeExceeded { code, data_len },
            (Icmpv6Type::ParamProblem, code) => Icmpv6Repr::ParamProblem {
                code,
                pointer: packet.pointer(),
                data_len,
            },
            (t, _) if NdpRepr::is_ndp(t) => Icmpv6Repr::Ndp(NdpRepr::parse(packet)?),
            (t, code) => Icmpv6Repr::Other {
                msg_type: t.into(),
                code,
                rest_of_header: packet.rest_of_header(),
                data_len,
            },
        })
    }

    pub const fn header_len(&self) -> usize {
        field::DATA
    }

    /// Header plus data, or the whole Neighbor Discovery message with its options.
    pub fn buffer_len(&self) -> usize {
        match *self {
            Icmpv6Repr::Ndp(ref ndp) => ndp.buffer_len(),
            Icmpv6Repr::EchoRequest { data_len, .. }
            | Icmpv6Repr::EchoReply { data_len, .. }
            | Icmpv6Repr::DstUnreachable { data_len, .. }
            | Icmpv6Repr::PacketTooBig { data_len, .. }
            | Icmpv6Repr::TimeExceeded { data_len, .. }
            | Icmpv6Repr::ParamProblem { data_len, .. }
            | Icmpv6Repr::Other { data_len, .. } => field::DATA + data_len,
        }
    }

    /// Where an error message's invoking packet lies in the message (RFC 4443 §2.4 (b) and
    /// (c)): for the four known errors and any unknown type below 128, which must still reach
    /// the upper layer that sent the invoking packet.
    pub fn invoking_packet(&self) -> Option<Range<usize>> {
        match *self {
            Icmpv6Repr::DstUnreachable { data_len, .. }
            | Icmpv6Repr::PacketTooBig { data_len, .. }
            | Icmpv6Repr::TimeExceeded { data_len, .. }
            | Icmpv6Repr::ParamProblem { data_len, .. } => {
                Some(field::DATA..field::DATA + data_len)
            }
            Icmpv6Repr::Other {
                msg_type, data_len, ..
            } if msg_type < 128 => Some(field::DATA..field::DATA + data_len),
            _ => None,
        }
    }

    /// Writes the message into `buf[..buffer_len()]` with its checksum over the pseudo-header
    /// of `src` and `dst`: copy an echo's data or an error's invoking packet to `buf[8..]`
    /// *before* calling this. Neighbor Discovery messages are written whole, options included.
    ///
    /// # Panics
    /// If `buf` is shorter than `buffer_len()`.
    pub fn emit(&self, src: &Ipv6Addr, dst: &Ipv6Addr, buf: &mut [u8]) {
        let mut packet = Icmpv6Packet::new_unchecked(&mut buf[..self.buffer_len()]);
        let (msg_type, code, rest) = match *self {
            Icmpv6Repr::EchoRequest { ident, seq_no, .. } => (128, 0, echo_rest(ident, seq_no)),
            Icmpv6Repr::EchoReply { ident, seq_no, .. } => (129, 0, echo_rest(ident, seq_no)),
            Icmpv6Repr::DstUnreachable { code, .. } => (1, code, 0),
            Icmpv6Repr::PacketTooBig { mtu, .. } => (2, 0, mtu),
            Icmpv6Repr::TimeExceeded { code, .. } => (3, code, 0),
            Icmpv6Repr::ParamProblem { code, pointer, .. } => (4, code, pointer),
            Icmpv6Repr::Ndp(ref ndp) => {
                ndp.emit(&mut packet);
                let sum = packet.pseudo_header(src, dst);
                packet.fill_checksum(sum);
                return;
            }
            Icmpv6Repr::Other {
                msg_type,
                code,
                rest_of_header,
                ..
            } => (msg_type, code, rest_of_header),
        };
        packet.set_msg_type(Icmpv6Type::from(msg_type));
        packet.set_code(code);
        packet.set_rest_of_header(rest);
        let sum = packet.pseudo_header(src, dst);
        packet.fill_checksum(sum);
    }
}

fn echo_rest(ident: u16, seq_no: u16) -> u32 {
    (u32::from(ident) << 16) | u32::from(seq_no)
}

#[cfg(test)]
mod tests {
    use super::super::{Ipv6Packet, Ipv6Repr, hex, walk_ext_headers};
    use super::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    /// The data of Linux's `ping -6`: a 16-byte timestamp, then 0x10..0x37.
    const PING_DATA: &str = "d4ea0f6b00000000810907000000000010111213141516171819
        1a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637";

    /// Linux's echo request from fd00::1 to fd00::2 (id 0x68cf, seq 1), and the kernel's reply.
    fn linux_ping() -> (Vec<u8>, Vec<u8>) {
        let request = hex(&format!("8000f17d68cf0001 {PING_DATA}"));
        let reply = hex(&format!("8100f07d68cf0001 {PING_DATA}"));
        (request, reply)
    }

    #[test]
    fn parses_a_real_echo_and_answers_it_in_place() {
        let (src, dst) = (a("fd00::1"), a("fd00::2"));
        let (mut buf, linux_reply) = linux_ping();
        let packet = Icmpv6Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(packet.msg_type(), Icmpv6Type::EchoRequest);
        assert!(packet.verify_checksum(packet.pseudo_header(&src, &dst)));
        assert!(!packet.verify_checksum(packet.pseudo_header(&src, &a("fd00::3"))));
        let repr = Icmpv6Repr::parse(&packet, &src, &dst, true).unwrap();
        let echo = |ident, seq_no, data_len| (ident, seq_no, data_len);
        assert!(
            matches!(repr, Icmpv6Repr::EchoRequest { ident, seq_no, data_len }
            if echo(ident, seq_no, data_len) == (0x68cf, 1, 56))
        );
        assert_eq!(repr.invoking_packet(), None);
        let mut out = buf.clone();
        out[..8].fill(0);
        repr.emit(&src, &dst, &mut out);
        assert_eq!(out, buf);
        // The in-place reply is byte for byte the kernel's, and verifies with swapped addresses.
        let mut packet = Icmpv6Packet::new_checked(&mut buf[..]).unwrap();
        packet.echo_request_to_reply().unwrap();
        assert_eq!(packet.echo_request_to_reply(), Err(Error::Unsupported));
        assert_eq!(buf, linux_reply);
        let reply = Icmpv6Packet::new_checked(&buf[..]).unwrap();
        assert!(reply.verify_checksum(reply.pseudo_header(&dst, &src)));
        let parsed = Icmpv6Repr::parse(&reply, &dst, &src, true).unwrap();
        assert!(matches!(parsed, Icmpv6Repr::EchoReply { data_len: 56, .. }));
    }

    #[test]
    fn parses_a_real_port_unreachable_and_its_invoking_packet() {
        // Linux's answer to a UDP datagram with a Destination Options header sent to a closed
        // port, from fd00::2 to fd00::1.
        let buf = hex("01041e5f00000000 60066e0b00153c40
            fd000000000000000000000000000001 fd000000000000000000000000000002
            11001e02abcd0100 b0ac270f000dea41 68656c6c6f");
        let (src, dst) = (a("fd00::2"), a("fd00::1"));
        let packet = Icmpv6Packet::new_checked(&buf[..]).unwrap();
        let repr = Icmpv6Repr::parse(&packet, &src, &dst, true).unwrap();
        let expect = Icmpv6Repr::DstUnreachable {
            code: code::PORT_UNREACHABLE,
            data_len: 61,
        };
        assert_eq!(repr, expect);
        let invoking = &buf[repr.invoking_packet().unwrap()];
        let inner = Ipv6Packet::new_unchecked(invoking);
        let inner_repr = Ipv6Repr::parse(&inner);
        assert_eq!(inner_repr.map(|r| r.payload_len), Ok(21));
        let ext = walk_ext_headers(inner.next_header(), inner.payload()).unwrap();
        assert_eq!(
            ext.upper_layer(inner.payload())[..4],
            [0xb0, 0xac, 0x27, 0x0f]
        );
        let mut out = buf.clone();
        out[..8].fill(0xff);
        repr.emit(&src, &dst, &mut out);
        assert_eq!(out, buf);
    }

    #[test]
    fn errors_and_other_messages() {
        let (src, dst) = (a("fe80::1"), a("fe80::2"));
        assert_eq!(
            Icmpv6Packet::new_checked(&[128u8, 0, 0, 0, 0, 0, 0][..]).unwrap_err(),
            Error::Truncated
        );
        let (mut bad, _) = linux_ping();
        bad[30] ^= 1;
        let packet = Icmpv6Packet::new_checked(&bad[..]).unwrap();
        let parsed = Icmpv6Repr::parse(&packet, &a("fd00::1"), &a("fd00::2"), true);
        assert_eq!(parsed, Err(Error::BadChecksum));
        let reprs = [
            Icmpv6Repr::PacketTooBig {
                mtu: 1280,
                data_len: 48,
            },
            Icmpv6Repr::TimeExceeded {
                code: code::HOP_LIMIT_EXCEEDED,
                data_len: 40,
            },
            Icmpv6Repr::ParamProblem {
                code: code::UNRECOGNIZED_NEXT_HEADER,
                pointer: 40,
                data_len: 48,
            },
            Icmpv6Repr::Other {
                msg_type: 100,
                code: 7,
                rest_of_header: 9,
                data_len: 4,
            },
        ];
        for repr in reprs {
            let mut buf = vec![0x5au8; repr.buffer_len()];
            repr.emit(&src, &dst, &mut buf);
            let packet = Icmpv6Packet::new_checked(&buf[..]).unwrap();
            assert_eq!(Icmpv6Repr::parse(&packet, &src, &dst, true), Ok(repr));
            assert!(packet.msg_type().is_error());
            assert_eq!(repr.invoking_packet(), Some(8..repr.buffer_len()));
        }
        assert_eq!(Icmpv6Repr::MAX_ERROR_DATA_LEN, 1232);
    }

    #[test]
    fn a_real_mld_report_is_other() {
        // The ICMPv6 part of Linux's MLDv2 report (type 143) from fe80::9c77:6ff:fec7:b8c5.
        let buf = hex("8f005a5d00000002 04000000ff020000000000000000 0001ff000001
            04000000ff0200000000000000000001ffc7b8c5");
        let (src, dst) = (a("fe80::9c77:6ff:fec7:b8c5"), a("ff02::16"));
        let packet = Icmpv6Packet::new_checked(&buf[..]).unwrap();
        let repr = Icmpv6Repr::parse(&packet, &src, &dst, true).unwrap();
        let expect = Icmpv6Repr::Other {
            msg_type: 143,
            code: 0,
            rest_of_header: 2,
            data_len: 40,
        };
        assert_eq!(repr, expect);
        assert!(!packet.msg_type().is_error() && repr.invoking_packet().is_none());
    }

    #[test]
    fn type_numbers_convert_both_ways() {
        for v in 0..=255u8 {
            assert_eq!(u8::from(Icmpv6Type::from(v)), v);
        }
        assert_eq!(Icmpv6Type::from(136), Icmpv6Type::NeighborAdvert);
    }
}
