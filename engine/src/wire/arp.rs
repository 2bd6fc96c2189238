//! ARP (RFC 826) for IPv4 over Ethernet: hardware type 1, protocol type 0x0800, hardware
//! length 6, protocol length 4, so a fixed 28-byte packet.
//!
//! The view's field offsets assume that layout. `new_checked` only checks the length (every
//! getter is then in bounds, whatever the bytes say); [`ArpRepr::parse`] rejects any other
//! hardware/protocol combination with `Error::Unsupported`. Trailing bytes (Ethernet padding)
//! are ignored.

use std::net::Ipv4Addr;

use super::ethernet::{MacAddr, mac_at};
use super::{Error, Field, Result, read_ipv4, read_u16, write_ipv4, write_u16};

/// RFC 826 `ar$hrd` for Ethernet.
const HTYPE_ETHERNET: u16 = 1;
/// RFC 826 `ar$pro`: the EtherType of IPv4.
const PTYPE_IPV4: u16 = 0x0800;

mod field {
    use super::Field;
    pub const HTYPE: Field = 0..2;
    pub const PTYPE: Field = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Field = 6..8;
    pub const SHA: Field = 8..14;
    pub const SPA: Field = 14..18;
    pub const THA: Field = 18..24;
    pub const TPA: Field = 24..28;
}

/// The ARP opcode (`ar$op`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArpOperation {
    Request,
    Reply,
    Unknown(u16),
}

impl From<u16> for ArpOperation {
    fn from(v: u16) -> ArpOperation {
        match v {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            other => ArpOperation::Unknown(other),
        }
    }
}

impl From<ArpOperation> for u16 {
    fn from(op: ArpOperation) -> u16 {
        match op {
            ArpOperation::Request => 1,
            ArpOperation::Reply => 2,
            ArpOperation::Unknown(other) => other,
        }
    }
}

/// A view of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// The length of an Ethernet/IPv4 ARP packet.
    pub const LEN: usize = field::TPA.end;

    /// Wraps a buffer without checks: getters panic if it is shorter than `LEN`.
    pub const fn new_unchecked(buffer: T) -> ArpPacket<T> {
        ArpPacket { buffer }
    }

    /// Wraps a received buffer, checking it is at least `LEN` bytes long.
    pub fn new_checked(buffer: T) -> Result<ArpPacket<T>> {
        let packet = ArpPacket::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// `Truncated` if the buffer is shorter than 28 bytes.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < Self::LEN {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn hardware_type(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::HTYPE)
    }

    pub fn protocol_type(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::PTYPE)
    }

    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    pub fn operation(&self) -> ArpOperation {
        ArpOperation::from(read_u16(self.buffer.as_ref(), field::OPER))
    }

    pub fn source_mac(&self) -> MacAddr {
        mac_at(self.buffer.as_ref(), field::SHA)
    }

    pub fn source_ip(&self) -> Ipv4Addr {
        read_ipv4(self.buffer.as_ref(), field::SPA)
    }

    pub fn target_mac(&self) -> MacAddr {
        mac_at(self.buffer.as_ref(), field::THA)
    }

    pub fn target_ip(&self) -> Ipv4Addr {
        read_ipv4(self.buffer.as_ref(), field::TPA)
    }

    /// Hardware Ethernet, protocol IPv4, lengths 6 and 4: the only layout this view describes.
    pub fn is_ethernet_ipv4(&self) -> bool {
        self.hardware_type() == HTYPE_ETHERNET
            && self.protocol_type() == PTYPE_IPV4
            && self.hardware_len() == 6
            && self.protocol_len() == 4
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    /// Writes the fixed Ethernet/IPv4 type and length fields.
    pub fn set_ethernet_ipv4(&mut self) {
        let data = self.buffer.as_mut();
        write_u16(data, field::HTYPE, HTYPE_ETHERNET);
        write_u16(data, field::PTYPE, PTYPE_IPV4);
        data[field::HLEN] = 6;
        data[field::PLEN] = 4;
    }

    pub fn set_operation(&mut self, op: ArpOperation) {
        write_u16(self.buffer.as_mut(), field::OPER, op.into());
    }

    pub fn set_source_mac(&mut self, mac: MacAddr) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&mac.0);
    }

    pub fn set_source_ip(&mut self, ip: Ipv4Addr) {
        write_ipv4(self.buffer.as_mut(), field::SPA, ip);
    }

    pub fn set_target_mac(&mut self, mac: MacAddr) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&mac.0);
    }

    pub fn set_target_ip(&mut self, ip: Ipv4Addr) {
        write_ipv4(self.buffer.as_mut(), field::TPA, ip);
    }
}

/// An Ethernet/IPv4 ARP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpRepr {
    pub operation: ArpOperation,
    pub source_mac: MacAddr,
    pub source_ip: Ipv4Addr,
    pub target_mac: MacAddr,
    pub target_ip: Ipv4Addr,
}

impl ArpRepr {
    /// Reads the message: `Truncated` below 28 bytes, `Unsupported` for any hardware or protocol
    /// other than Ethernet/IPv4 (RFC 826 "?Do I have the hardware type in ar$hrd?").
    pub fn parse<T: AsRef<[u8]>>(packet: &ArpPacket<T>) -> Result<ArpRepr> {
        packet.check_len()?;
        if !packet.is_ethernet_ipv4() {
            return Err(Error::Unsupported);
        }
        Ok(ArpRepr {
            operation: packet.operation(),
            source_mac: packet.source_mac(),
            source_ip: packet.source_ip(),
            target_mac: packet.target_mac(),
            target_ip: packet.target_ip(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        field::TPA.end
    }

    /// Writes the 28-byte packet at the start of `buf`.
    ///
    /// # Panics
    /// If `buf` is shorter than 28 bytes.
    pub fn emit(&self, buf: &mut [u8]) {
        let mut packet = ArpPacket::new_unchecked(buf);
        packet.set_ethernet_ipv4();
        packet.set_operation(self.operation);
        packet.set_source_mac(self.source_mac);
        packet.set_source_ip(self.source_ip);
        packet.set_target_mac(self.target_mac);
        packet.set_target_ip(self.target_ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "Who has 10.0.0.2? Tell 10.0.0.1", as Linux sends it (target MAC zero).
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x0a,
        0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x02,
    ];

    #[test]
    fn parses_a_request() {
        let packet = ArpPacket::new_checked(&REQUEST[..]).unwrap();
        let repr = ArpRepr::parse(&packet).unwrap();
        assert_eq!(repr.operation, ArpOperation::Request);
        assert_eq!(
            repr.source_mac,
            MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56])
        );
        assert_eq!(repr.source_ip, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(repr.target_mac, MacAddr::ZERO);
        assert_eq!(repr.target_ip, Ipv4Addr::new(10, 0, 0, 2));
        let mut out = [0xaa; 28];
        repr.emit(&mut out);
        assert_eq!(out, REQUEST);
    }

    #[test]
    fn rejects_short_and_foreign_packets() {
        assert_eq!(
            ArpPacket::new_checked(&REQUEST[..27]).unwrap_err(),
            Error::Truncated
        );
        let short = ArpPacket::new_unchecked(&REQUEST[..10]);
        assert_eq!(ArpRepr::parse(&short), Err(Error::Truncated));
        for (at, value) in [(1, 6u8), (2, 0x86), (4, 8), (5, 16)] {
            let mut p = REQUEST;
            p[at] = value;
            let packet = ArpPacket::new_checked(&p[..]).unwrap();
            assert_eq!(ArpRepr::parse(&packet), Err(Error::Unsupported));
        }
    }

    #[test]
    fn reply_round_trip_with_padding() {
        let repr = ArpRepr {
            operation: ArpOperation::Reply,
            source_mac: MacAddr([2, 0, 0, 0, 0, 2]),
            source_ip: Ipv4Addr::new(10, 0, 0, 2),
            target_mac: MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]),
            target_ip: Ipv4Addr::new(10, 0, 0, 1),
        };
        let mut buf = [0u8; 46];
        repr.emit(&mut buf);
        let packet = ArpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(ArpRepr::parse(&packet), Ok(repr));
        assert_eq!(u16::from(ArpOperation::from(7)), 7);
    }
}
