//! ICMPv4 messages (RFC 792): an 8-byte header (type, code, checksum, four type-specific bytes)
//! and data. The checksum covers the whole message (RFC 792 "Checksum").
//!
//! The view's buffer is the IPv4 payload (bounded by the IP total length), so the message ends
//! where the buffer ends. Invariant of a checked packet: at least 8 bytes.
//!
//! Reprs carry no data: [`IcmpRepr::emit`] writes the header and computes the checksum over data
//! the caller has already put after it. The engine answers pings by rewriting the request in
//! place ([`IcmpPacket::echo_request_to_reply`], an RFC 1624 incremental update).

use super::checksum;
use super::{Error, Field, Result, read_u16, read_u32, write_u16, write_u32};

/// The ICMP message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IcmpType {
    EchoReply,
    DstUnreachable,
    EchoRequest,
    TimeExceeded,
    Unknown(u8),
}

impl From<u8> for IcmpType {
    fn from(v: u8) -> IcmpType {
        match v {
            0 => IcmpType::EchoReply,
            3 => IcmpType::DstUnreachable,
            8 => IcmpType::EchoRequest,
            11 => IcmpType::TimeExceeded,
            other => IcmpType::Unknown(other),
        }
    }
}

impl From<IcmpType> for u8 {
    fn from(t: IcmpType) -> u8 {
        match t {
            IcmpType::EchoReply => 0,
            IcmpType::DstUnreachable => 3,
            IcmpType::EchoRequest => 8,
            IcmpType::TimeExceeded => 11,
            IcmpType::Unknown(other) => other,
        }
    }
}

mod field {
    use super::Field;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const TYPE_CODE: Field = 0..2;
    pub const CHECKSUM: Field = 2..4;
    /// The four type-specific bytes ("rest of header").
    pub const REST: Field = 4..8;
    pub const ECHO_IDENT: Field = 4..6;
    pub const ECHO_SEQ: Field = 6..8;
    /// RFC 1191 §4: Destination Unreachable, code 4, carries the next-hop MTU here.
    pub const NEXT_HOP_MTU: Field = 6..8;
    pub const DATA: usize = 8;
}

/// A view of an ICMPv4 message.
#[derive(Debug, Clone)]
pub struct IcmpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IcmpPacket<T> {
    pub const HEADER_LEN: usize = field::DATA;

    /// Wraps a buffer without checks: getters panic if it is shorter than 8 bytes.
    pub const fn new_unchecked(buffer: T) -> IcmpPacket<T> {
        IcmpPacket { buffer }
    }

    /// Wraps a received message, checking it holds the 8-byte header.
    pub fn new_checked(buffer: T) -> Result<IcmpPacket<T>> {
        let packet = IcmpPacket::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// `Truncated` if the buffer is shorter than the header.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < field::DATA {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn msg_type(&self) -> IcmpType {
        IcmpType::from(self.buffer.as_ref()[field::TYPE])
    }

    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The identifier of an echo request or reply.
    pub fn echo_ident(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ECHO_IDENT)
    }

    /// The sequence number of an echo request or reply.
    pub fn echo_seq_no(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ECHO_SEQ)
    }

    /// The next-hop MTU of a "fragmentation needed" Destination Unreachable (RFC 1191 §4).
    pub fn next_hop_mtu(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::NEXT_HOP_MTU)
    }

    /// The four type-specific header bytes as one number.
    pub fn rest_of_header(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::REST)
    }

    /// Everything after the 8-byte header.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[field::DATA..]
    }

    /// The checksum over the whole message verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum::finish(checksum::sum(self.buffer.as_ref(), 0)) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> IcmpPacket<T> {
    pub fn set_msg_type(&mut self, t: IcmpType) {
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

    pub fn set_rest_of_header(&mut self, v: u32) {
        write_u32(self.buffer.as_mut(), field::REST, v);
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::DATA..]
    }

    /// Computes and stores the checksum over the whole buffer.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum::sum(self.buffer.as_ref(), 0);
        self.set_checksum(checksum::finish(sum));
    }

    /// Turns an echo request into the matching echo reply in place: RFC 792 "the type code
    /// changed to 0", identifier, sequence number and data kept. The checksum is updated
    /// incrementally (RFC 1624 eqn. 3), so a request whose checksum verified gives a reply whose
    /// checksum verifies; verify the request first. `Truncated` below 8 bytes, `Unsupported`
    /// for anything but an echo request with code 0; the buffer is then left untouched.
    pub fn echo_request_to_reply(&mut self) -> Result<()> {
        self.check_len()?;
        if self.msg_type() != IcmpType::EchoRequest || self.code() != 0 {
            return Err(Error::Unsupported);
        }
        let old_word = read_u16(self.buffer.as_ref(), field::TYPE_CODE);
        self.set_msg_type(IcmpType::EchoReply);
        let new_word = read_u16(self.buffer.as_ref(), field::TYPE_CODE);
        let updated = checksum::update(self.checksum(), old_word, new_word);
        self.set_checksum(updated);
        Ok(())
    }
}

/// An ICMPv4 message header; the data stays in the buffer (`data_len` bytes after the header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpRepr {
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
    /// The data is the offending datagram's IP header and first 8 payload bytes (RFC 792).
    DstUnreachable {
        code: u8,
        /// Meaningful for code 4, "fragmentation needed and DF set" (RFC 1191 §4); else 0.
        next_hop_mtu: u16,
        data_len: usize,
    },
    /// Any other message (including an echo with a non-zero code), kept verbatim.
    Other {
        msg_type: u8,
        code: u8,
        rest_of_header: u32,
        data_len: usize,
    },
}

impl IcmpRepr {
    /// Reads the header. `Truncated` below 8 bytes; `BadChecksum` if `verify_checksum` is set
    /// and the checksum over the whole message fails (RFC 1122 §3.2.2: silently discard).
    pub fn parse<T: AsRef<[u8]>>(
        packet: &IcmpPacket<T>,
        verify_checksum: bool,
    ) -> Result<IcmpRepr> {
        packet.check_len()?;
        if verify_checksum && !packet.verify_checksum() {
            return Err(Error::BadChecksum);
        }
        let data_len = packet.data().len();
        let (ident, seq_no) = (packet.echo_ident(), packet.echo_seq_no());
        Ok(match (packet.msg_type(), packet.code()) {
            (IcmpType::EchoRequest, 0) => IcmpRepr::EchoRequest {
                ident,
                seq_no,
                data_len,
            },
            (IcmpType::EchoReply, 0) => IcmpRepr::EchoReply {
                ident,
                seq_no,
                data_len,
            },
            (IcmpType::DstUnreachable, code) => IcmpRepr::DstUnreachable {
                code,
                next_hop_mtu: packet.next_hop_mtu(),
                data_len,
            },
            (t, code) => IcmpRepr::Other {
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

    pub const fn data_len(&self) -> usize {
        match *self {
            IcmpRepr::EchoRequest { data_len, .. }
            | IcmpRepr::EchoReply { data_len, .. }
            | IcmpRepr::DstUnreachable { data_len, .. }
            | IcmpRepr::Other { data_len, .. } => data_len,
        }
    }

    /// Header plus data.
    pub const fn buffer_len(&self) -> usize {
        field::DATA + self.data_len()
    }

    /// Writes the header into `buf[..8]` and the checksum over `buf[..buffer_len()]`: copy the
    /// data to `buf[8..]` *before* calling this.
    ///
    /// # Panics
    /// If `buf` is shorter than `buffer_len()`.
    pub fn emit(&self, buf: &mut [u8]) {
        let mut packet = IcmpPacket::new_unchecked(&mut buf[..self.buffer_len()]);
        let (msg_type, code, rest) = match *self {
            IcmpRepr::EchoRequest { ident, seq_no, .. } => (8, 0, echo_rest(ident, seq_no)),
            IcmpRepr::EchoReply { ident, seq_no, .. } => (0, 0, echo_rest(ident, seq_no)),
            IcmpRepr::DstUnreachable {
                code, next_hop_mtu, ..
            } => (3, code, u32::from(next_hop_mtu)),
            IcmpRepr::Other {
                msg_type,
                code,
                rest_of_header,
                ..
            } => (msg_type, code, rest_of_header),
        };
        packet.set_msg_type(IcmpType::from(msg_type));
        packet.set_code(code);
        packet.set_rest_of_header(rest);
        packet.fill_checksum();
    }
}

fn echo_rest(ident: u16, seq_no: u16) -> u32 {
    (u32::from(ident) << 16) | u32::from(seq_no)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ICMP part of a Linux `ping`: id 0x1c46, seq 1, 16 bytes of timestamp, then 0x10..0x37.
    fn linux_ping() -> Vec<u8> {
        let mut p = vec![
            0x08, 0x00, 0xa4, 0x07, 0x1c, 0x46, 0x00, 0x01, 0xd2, 0x4b, 0x3f, 0x65, 0x00, 0x00,
            0x00, 0x00, 0x5c, 0x2d, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        p.extend(0x10u8..0x38);
        p
    }

    #[test]
    fn parses_a_real_ping() {
        let buf = linux_ping();
        let packet = IcmpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(packet.msg_type(), IcmpType::EchoRequest);
        assert_eq!(packet.code(), 0);
        assert_eq!(packet.checksum(), 0xa407);
        assert!(packet.verify_checksum());
        assert_eq!((packet.echo_ident(), packet.echo_seq_no()), (0x1c46, 1));
        assert_eq!(packet.data().len(), 56);
        let repr = IcmpRepr::parse(&packet, true).unwrap();
        assert_eq!(
            repr,
            IcmpRepr::EchoRequest {
                ident: 0x1c46,
                seq_no: 1,
                data_len: 56
            }
        );
        let mut out = buf.clone();
        out[..8].fill(0);
        repr.emit(&mut out);
        assert_eq!(out, buf);
    }

    #[test]
    fn echo_reply_in_place_matches_recomputation() {
        let mut buf = linux_ping();
        IcmpPacket::new_checked(&mut buf[..])
            .unwrap()
            .echo_request_to_reply()
            .unwrap();
        let packet = IcmpPacket::new_checked(&buf[..]).unwrap();
        assert!(packet.verify_checksum());
        let reply = IcmpRepr::parse(&packet, true).unwrap();
        assert_eq!(
            reply,
            IcmpRepr::EchoReply {
                ident: 0x1c46,
                seq_no: 1,
                data_len: 56
            }
        );
        let mut again = buf.clone();
        reply.emit(&mut again);
        assert_eq!(again, buf);
        // A reply is not turned into anything.
        let mut p = IcmpPacket::new_checked(&mut buf[..]).unwrap();
        assert_eq!(p.echo_request_to_reply(), Err(Error::Unsupported));
    }

    #[test]
    fn errors_and_other_messages() {
        assert_eq!(
            IcmpPacket::new_checked(&[8u8, 0, 0][..]).unwrap_err(),
            Error::Truncated
        );
        let mut bad = linux_ping();
        bad[30] ^= 1;
        let packet = IcmpPacket::new_checked(&bad[..]).unwrap();
        assert_eq!(IcmpRepr::parse(&packet, true), Err(Error::BadChecksum));
        let frag_needed = IcmpRepr::DstUnreachable {
            code: 4,
            next_hop_mtu: 1400,
            data_len: 28,
        };
        let mut buf = [0u8; 36];
        frag_needed.emit(&mut buf);
        let packet = IcmpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(packet.next_hop_mtu(), 1400);
        assert_eq!(IcmpRepr::parse(&packet, true), Ok(frag_needed));
        let other = IcmpRepr::Other {
            msg_type: 8,
            code: 1,
            rest_of_header: 7,
            data_len: 0,
        };
        let mut buf = [0u8; 8];
        other.emit(&mut buf);
        let packet = IcmpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(IcmpRepr::parse(&packet, true), Ok(other));
    }
}
