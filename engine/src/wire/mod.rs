//! Zero-copy views and checked representations of the headers the engine speaks: Ethernet II,
//! ARP (RFC 826), IPv4 (RFC 791), ICMPv4 (RFC 792), IPv6 (RFC 8200 §3) and its extension headers
//! (RFC 8200 §4, walked by [`walk_ext_headers`]), ICMPv6 (RFC 4443), Neighbor Discovery
//! (RFC 4861) and TCP (RFC 9293, RFC 7323, RFC 2018), plus the Internet checksum with the IPv4 and
//! IPv6 pseudo-headers (RFC 1071, RFC 1624, RFC 8200 §8.1), IPv6 address helpers ([`ipv6_addr`]:
//! solicited-node groups, RFC 4291 §2.7.1; multicast MACs, RFC 2464 §7) and TCP sequence-number
//! arithmetic (RFC 9293 §3.4).
//!
//! The pattern is smoltcp's. A view (`EthernetFrame<T>`, `Ipv4Packet<T>`, ...) wraps any
//! `T: AsRef<[u8]>` (a slice of an mbuf, a `Vec`, an array), reads fields in place through byte
//! ranges kept in a private `mod field`, and has setters only when `T: AsMut<[u8]>`. A `Repr`
//! (`Ipv4Repr`, `TcpRepr`, ...) is the plain-data form: `parse` reads one from a view, `emit`
//! writes one into a buffer of at least `buffer_len()` (or `header_len()`) bytes. Reprs never
//! carry payload: it stays in the buffer it arrived in, at the offset `header_len()` gives.
//!
//! # The no-panic contract
//!
//! Received bytes never panic the engine (ARCHITECTURE decision 11):
//! - `new_checked` validates every length the accessors rely on, so once it has returned `Ok`,
//!   no getter of that view panics, whatever the bytes are. (A setter that changes a length
//!   field, such as `set_header_len`, can break that invariant: setters are for buffers being
//!   built, which are then read with `new_unchecked`.)
//! - `Repr::parse` re-checks the lengths itself and returns an [`Error`] on any bytes, even when
//!   given a view made by `new_unchecked`.
//! - `new_unchecked` performs no checks: its getters panic on a buffer that is too short. Use it
//!   only on buffers this engine is building.
//! - `emit` panics if the caller's buffer is shorter than the repr's `buffer_len()`: that is a
//!   programming error, not bad input.
//!
//! All multi-byte fields are big-endian (network byte order).

pub mod checksum;
pub mod ipv6_addr;

mod arp;
mod ethernet;
mod icmp;
mod icmpv6;
mod ipv4;
mod ipv6;
mod ipv6_ext;
mod ndp;
mod seq;
mod tcp;
mod tcp_options;

pub use self::arp::{ArpOperation, ArpPacket, ArpRepr};
pub use self::checksum::Checksum;
pub use self::ethernet::{EtherType, EthernetFrame, EthernetRepr, MacAddr};
pub use self::icmp::{IcmpPacket, IcmpRepr, IcmpType};
pub use self::icmpv6::{Icmpv6Packet, Icmpv6Repr, Icmpv6Type, code as icmpv6_code};
pub use self::ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
pub use self::ipv6::{Ipv6Packet, Ipv6Repr};
pub use self::ipv6_ext::{
    ExtHeaderError, Ipv6ExtHeaders, Ipv6Fragment, Ipv6Routing, MAX_EXT_HEADERS, OptionAction,
    walk_ext_headers,
};
pub use self::ndp::{NdpOption, NdpOptions, NdpRepr, NeighborFlags};
pub use self::seq::SeqNum;
pub use self::tcp::{TcpFlags, TcpPacket, TcpRepr};
pub use self::tcp_options::{SackBlocks, TcpOption, TcpOptions};

/// Why a buffer was rejected. The interface counts each kind separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Error {
    /// The buffer is shorter than the fixed header (or a structure it announces).
    #[error("buffer truncated")]
    Truncated,
    /// A field holds a value the protocol does not allow (e.g. a TCP option length below 2).
    #[error("malformed header")]
    Malformed,
    /// The IP version field is not 4 (IPv4) or not 6 (IPv6).
    #[error("bad IP version")]
    BadVersion,
    /// A header-length field is below the minimum or points past the buffer.
    #[error("bad header length")]
    BadHeaderLen,
    /// The IPv4 total length is below the header length or beyond the buffer, or the IPv6
    /// payload length runs past the buffer (Linux counts the latter as `Ip6InTruncatedPkts`).
    #[error("bad total length")]
    BadTotalLen,
    /// A checksum that was asked to be verified does not verify.
    #[error("bad checksum")]
    BadChecksum,
    /// Well-formed, but something this engine does not handle (non-Ethernet ARP, IP fragments).
    #[error("unsupported")]
    Unsupported,
}

/// The result of parsing wire data.
pub type Result<T> = core::result::Result<T, Error>;

/// A byte range inside a header, as used by every `mod field`.
type Field = core::ops::Range<usize>;

/// Reads a big-endian `u16` from a 2-byte range. Callers have checked the length.
#[inline]
fn read_u16(data: &[u8], field: Field) -> u16 {
    let b = &data[field];
    u16::from_be_bytes([b[0], b[1]])
}

/// Reads a big-endian `u32` from a 4-byte range. Callers have checked the length.
#[inline]
fn read_u32(data: &[u8], field: Field) -> u32 {
    let b = &data[field];
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

#[inline]
fn write_u16(data: &mut [u8], field: Field, value: u16) {
    data[field].copy_from_slice(&value.to_be_bytes());
}

#[inline]
fn write_u32(data: &mut [u8], field: Field, value: u32) {
    data[field].copy_from_slice(&value.to_be_bytes());
}

/// Reads an IPv4 address from a 4-byte range.
#[inline]
fn read_ipv4(data: &[u8], field: Field) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::from(read_u32(data, field))
}

#[inline]
fn write_ipv4(data: &mut [u8], field: Field, addr: std::net::Ipv4Addr) {
    data[field].copy_from_slice(&addr.octets());
}

/// Reads an IPv6 address from a 16-byte range.
#[inline]
fn read_ipv6(data: &[u8], field: Field) -> std::net::Ipv6Addr {
    let mut octets = [0u8; 16];
    octets.copy_from_slice(&data[field]);
    std::net::Ipv6Addr::from(octets)
}

#[inline]
fn write_ipv6(data: &mut [u8], field: Field, addr: &std::net::Ipv6Addr) {
    data[field].copy_from_slice(&addr.octets());
}

/// Decodes a hex string (whitespace ignored), for known-answer tests written as tcpdump shows
/// packets.
#[cfg(test)]
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let nibble = |b: u8| (b as char).to_digit(16).expect("hex digit") as u8;
    digits
        .chunks(2)
        .map(|pair| (nibble(pair[0]) << 4) | nibble(pair[1]))
        .collect()
}
