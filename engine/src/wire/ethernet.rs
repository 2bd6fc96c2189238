//! Ethernet II frames (IEEE 802.3 with an EtherType, RFC 894): a 14-byte header of destination
//! MAC, source MAC and EtherType, then the payload. The frame check sequence is the NIC's.
//!
//! No 802.1Q support: a VLAN tag (0x8100) is reported as `EtherType::Unknown(0x8100)` and the
//! interface drops it. Invariant: a checked frame is at least [`EthernetFrame::HEADER_LEN`] long.

use std::fmt;
use std::str::FromStr;

use super::{Error, Field, Result, read_u16, write_u16};

/// A 48-bit IEEE MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// Reads an address from exactly six bytes (`None` for any other length).
    pub fn from_bytes(bytes: &[u8]) -> Option<MacAddr> {
        <[u8; 6]>::try_from(bytes).ok().map(MacAddr)
    }

    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    pub fn is_broadcast(&self) -> bool {
        *self == MacAddr::BROADCAST
    }

    /// The group bit (least significant bit of the first octet) is set; broadcast included.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    pub fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Parses `aa:bb:cc:dd:ee:ff` (hex digits in either case, one or two per octet).
impl FromStr for MacAddr {
    type Err = Error;
    fn from_str(s: &str) -> Result<MacAddr> {
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut out {
            let part = parts.next().ok_or(Error::Malformed)?;
            let hex = part.bytes().all(|b| b.is_ascii_hexdigit());
            if part.is_empty() || part.len() > 2 || !hex {
                return Err(Error::Malformed);
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| Error::Malformed)?;
        }
        if parts.next().is_some() {
            return Err(Error::Malformed);
        }
        Ok(MacAddr(out))
    }
}

/// The EtherType field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EtherType {
    Ipv4,
    Arp,
    Ipv6,
    Unknown(u16),
}

impl From<u16> for EtherType {
    fn from(v: u16) -> EtherType {
        match v {
            0x0800 => EtherType::Ipv4,
            0x0806 => EtherType::Arp,
            0x86dd => EtherType::Ipv6,
            other => EtherType::Unknown(other),
        }
    }
}

impl From<EtherType> for u16 {
    fn from(t: EtherType) -> u16 {
        match t {
            EtherType::Ipv4 => 0x0800,
            EtherType::Arp => 0x0806,
            EtherType::Ipv6 => 0x86dd,
            EtherType::Unknown(other) => other,
        }
    }
}

mod field {
    use super::Field;
    pub const DST: Field = 0..6;
    pub const SRC: Field = 6..12;
    pub const ETHERTYPE: Field = 12..14;
    pub const PAYLOAD: usize = 14;
}

/// A view of an Ethernet II frame.
#[derive(Debug, Clone)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    pub const HEADER_LEN: usize = field::PAYLOAD;

    /// Wraps a buffer without checks: getters panic if it is shorter than `HEADER_LEN`.
    pub const fn new_unchecked(buffer: T) -> EthernetFrame<T> {
        EthernetFrame { buffer }
    }

    /// Wraps a received buffer, checking it holds a whole header.
    pub fn new_checked(buffer: T) -> Result<EthernetFrame<T>> {
        let frame = EthernetFrame::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }

    /// `Truncated` if the buffer is shorter than the header.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn dst(&self) -> MacAddr {
        mac_at(self.buffer.as_ref(), field::DST)
    }

    pub fn src(&self) -> MacAddr {
        mac_at(self.buffer.as_ref(), field::SRC)
    }

    pub fn ethertype(&self) -> EtherType {
        EtherType::from(read_u16(self.buffer.as_ref(), field::ETHERTYPE))
    }

    /// Everything after the header (including any padding up to the 60-byte minimum).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    pub fn set_dst(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&addr.0);
    }

    pub fn set_src(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&addr.0);
    }

    pub fn set_ethertype(&mut self, t: EtherType) {
        write_u16(self.buffer.as_mut(), field::ETHERTYPE, t.into());
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD..]
    }
}

/// Reads a MAC address from a 6-byte range. Callers have checked the length.
pub(super) fn mac_at(data: &[u8], range: Field) -> MacAddr {
    let b = &data[range];
    MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]])
}

/// The header of an Ethernet II frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetRepr {
    pub src: MacAddr,
    pub dst: MacAddr,
    pub ethertype: EtherType,
}

impl EthernetRepr {
    /// Reads the header; `Truncated` if the frame is shorter than 14 bytes.
    pub fn parse<T: AsRef<[u8]>>(frame: &EthernetFrame<T>) -> Result<EthernetRepr> {
        frame.check_len()?;
        Ok(EthernetRepr {
            src: frame.src(),
            dst: frame.dst(),
            ethertype: frame.ethertype(),
        })
    }

    pub const fn header_len(&self) -> usize {
        field::PAYLOAD
    }

    /// The frame length for a payload of `payload_len` bytes.
    pub const fn buffer_len(&self, payload_len: usize) -> usize {
        field::PAYLOAD + payload_len
    }

    /// Writes the 14-byte header at the start of `buf`.
    ///
    /// # Panics
    /// If `buf` is shorter than 14 bytes.
    pub fn emit(&self, buf: &mut [u8]) {
        let mut frame = EthernetFrame::new_unchecked(buf);
        frame.set_dst(self.dst);
        frame.set_src(self.src);
        frame.set_ethertype(self.ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The Ethernet header of a broadcast ARP request from 52:54:00:12:34:56.
    const ARP_FRAME_HEAD: [u8; 16] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06, 0x00,
        0x01,
    ];

    #[test]
    fn parses_a_real_header() {
        let frame = EthernetFrame::new_checked(&ARP_FRAME_HEAD[..]).unwrap();
        assert!(frame.dst().is_broadcast() && frame.dst().is_multicast());
        assert_eq!(frame.src(), MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]));
        assert!(frame.src().is_unicast());
        assert_eq!(frame.ethertype(), EtherType::Arp);
        assert_eq!(frame.payload(), &[0x00, 0x01]);
        let repr = EthernetRepr::parse(&frame).unwrap();
        let mut out = [0u8; 16];
        repr.emit(&mut out);
        assert_eq!(out[..14], ARP_FRAME_HEAD[..14]);
    }

    #[test]
    fn rejects_short_frames() {
        assert_eq!(
            EthernetFrame::new_checked(&[0u8; 13][..]).unwrap_err(),
            Error::Truncated
        );
        let unchecked = EthernetFrame::new_unchecked(&[0u8; 3][..]);
        assert_eq!(EthernetRepr::parse(&unchecked), Err(Error::Truncated));
        assert!(
            EthernetFrame::new_checked(&[0u8; 14][..])
                .unwrap()
                .payload()
                .is_empty()
        );
    }

    #[test]
    fn mac_text_round_trip() {
        let mac: MacAddr = "52:54:0:AB:cd:ef".parse().unwrap();
        assert_eq!(mac.to_string(), "52:54:00:ab:cd:ef");
        for bad in [
            "",
            "52:54:00:ab:cd",
            "52:54:00:ab:cd:ef:01",
            "52:54:00:ab:cd:xg",
            "1:2:3:4:5:123",
            "+1:2:3:4:5:6",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
        assert_eq!(MacAddr::from_bytes(&[1, 2, 3]), None);
    }

    #[test]
    fn ethertype_conversions() {
        for v in [0x0800u16, 0x0806, 0x86dd, 0x8100, 0] {
            assert_eq!(u16::from(EtherType::from(v)), v);
        }
        assert_eq!(EtherType::from(0x8100), EtherType::Unknown(0x8100));
    }
}
