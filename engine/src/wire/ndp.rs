//! Neighbor Discovery for IPv6 (RFC 4861): the five ICMPv6 messages of §4 (Router
//! Solicitation 133, Router Advertisement 134, Neighbor Solicitation 135, Neighbor Advertisement
//! 136, Redirect 137), their options (§4.6), and the validity checks of §6.1, §7.1 and §8.1 that
//! depend on the packet alone.
//!
//! [`NdpRepr::parse`] checks what a repr cannot be built without: code 0 and the fixed part's
//! length (`Malformed`, `Truncated`), and well-formed options (`Malformed` for an option of length
//! zero, which "nodes MUST silently discard" packets for, RFC 4861 §4.6; `Truncated` for one
//! running past the message; `Malformed` for a link-layer address or MTU option that is not 8
//! bytes long, RFC 2464 §8 and RFC 4861 §4.6.4). [`NdpRepr::validate`] adds the checks that need
//! the IPv6 header (hop limit 255, addresses, flags). Both are count-and-drop for the IP layer.
//!
//! Options: the Source and Target Link-Layer Address options (1, 2) carry an Ethernet
//! [`MacAddr`]; the MTU option (5) of a Router Advertisement is read; every other option is
//! skipped (RFC 4861 §4.6: "Receivers MUST silently ignore any options they do not recognize"),
//! as are known options in messages that do not use them. When an option appears twice, the
//! first one counts, as in Linux's `ndisc_parse_options`. [`NdpOptions`] iterates over them all
//! for a caller that wants more (prefix information, say). The engine is a host: it parses
//! Router Advertisements and Redirects so they can be counted and ignored, and emits them only
//! for tests.

use std::iter::FusedIterator;
use std::net::Ipv6Addr;
use std::ops::BitOr;

use super::ethernet::{MacAddr, mac_at};
use super::icmpv6::{Icmpv6Packet, Icmpv6Type};
use super::ipv6::Ipv6Repr;
use super::ipv6_addr;
use super::{
    Error, Field, Result, read_ipv6, read_u16, read_u32, write_ipv6, write_u16, write_u32,
};

/// Offsets in the ICMPv6 message (RFC 4861 §4.1 to §4.5).
mod field {
    use super::Field;
    pub const RA_CUR_HOP_LIMIT: usize = 4;
    pub const RA_FLAGS: usize = 5;
    pub const RA_ROUTER_LIFETIME: Field = 6..8;
    pub const RA_REACHABLE_TIME: Field = 8..12;
    pub const RA_RETRANS_TIMER: Field = 12..16;
    pub const NA_FLAGS: usize = 4;
    /// The target address of NS, NA and Redirect.
    pub const TARGET: Field = 8..24;
    pub const REDIRECT_DST: Field = 24..40;
    /// Where the options start, after each message's fixed part.
    pub const RS_OPTIONS: usize = 8;
    pub const RA_OPTIONS: usize = 16;
    pub const NS_NA_OPTIONS: usize = 24;
    pub const REDIRECT_OPTIONS: usize = 40;
}

/// Option types (RFC 4861 §4.6).
mod kind {
    pub const SOURCE_LLADDR: u8 = 1;
    pub const TARGET_LLADDR: u8 = 2;
    pub const MTU: u8 = 5;
}

/// The length of the options this engine writes: link-layer address (RFC 2464 §8) and MTU.
const OPTION_LEN: usize = 8;

/// The hop limit every Neighbor Discovery message must arrive with, proving it was sent on the
/// link (RFC 4861 §3.1).
const ND_HOP_LIMIT: u8 = 255;

/// The flags of a Neighbor Advertisement (RFC 4861 §4.4): Router, Solicited, Override.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NeighborFlags(pub u8);

impl NeighborFlags {
    pub const ROUTER: NeighborFlags = NeighborFlags(0x80);
    pub const SOLICITED: NeighborFlags = NeighborFlags(0x40);
    pub const OVERRIDE: NeighborFlags = NeighborFlags(0x20);
    /// The three defined bits; the others are reserved and ignored on receipt.
    const MASK: u8 = 0xe0;

    /// Every flag of `other` is set in `self`.
    pub const fn contains(self, other: NeighborFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for NeighborFlags {
    type Output = NeighborFlags;
    fn bitor(self, rhs: NeighborFlags) -> NeighborFlags {
        NeighborFlags(self.0 | rhs.0)
    }
}

/// One Neighbor Discovery option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdpOption {
    SourceLinkAddr(MacAddr),
    TargetLinkAddr(MacAddr),
    Mtu(u32),
    /// A type this engine does not read; its bytes were skipped.
    Unknown {
        kind: u8,
    },
}

/// An iterator over the options of a Neighbor Discovery message (the bytes after its fixed
/// part). Yields an error at most once and then stops.
#[derive(Debug, Clone)]
pub struct NdpOptions<'a> {
    rest: &'a [u8],
}

impl<'a> NdpOptions<'a> {
    pub const fn new(bytes: &'a [u8]) -> NdpOptions<'a> {
        NdpOptions { rest: bytes }
    }

    /// Reads the option at the front (RFC 4861 §4.6: type, length in units of 8 bytes, value).
    fn next_option(&mut self) -> Result<NdpOption> {
        let len = usize::from(*self.rest.get(1).ok_or(Error::Truncated)?) * 8;
        if len == 0 {
            return Err(Error::Malformed);
        }
        let option = self.rest.get(..len).ok_or(Error::Truncated)?;
        self.rest = &self.rest[len..];
        let fixed = |value| {
            if len == OPTION_LEN {
                Ok(value)
            } else {
                Err(Error::Malformed)
            }
        };
        match option[0] {
            kind::SOURCE_LLADDR => fixed(NdpOption::SourceLinkAddr(mac_at(option, 2..8))),
            kind::TARGET_LLADDR => fixed(NdpOption::TargetLinkAddr(mac_at(option, 2..8))),
            kind::MTU => fixed(NdpOption::Mtu(read_u32(option, 4..8))),
            kind => Ok(NdpOption::Unknown { kind }),
        }
    }
}

impl Iterator for NdpOptions<'_> {
    type Item = Result<NdpOption>;

    fn next(&mut self) -> Option<Result<NdpOption>> {
        if self.rest.is_empty() {
            return None;
        }
        let option = self.next_option();
        if option.is_err() {
            self.rest = &[];
        }
        Some(option)
    }
}

impl FusedIterator for NdpOptions<'_> {}

/// The options a message's repr keeps: the first of each kind.
#[derive(Default)]
struct Found {
    source: Option<MacAddr>,
    target: Option<MacAddr>,
    mtu: Option<u32>,
}

/// Reads the options from `start` on; `Truncated` if the message ends before `start`.
fn scan_options(msg: &[u8], start: usize) -> Result<Found> {
    let mut found = Found::default();
    for option in NdpOptions::new(msg.get(start..).ok_or(Error::Truncated)?) {
        match option? {
            NdpOption::SourceLinkAddr(mac) => found.source = found.source.or(Some(mac)),
            NdpOption::TargetLinkAddr(mac) => found.target = found.target.or(Some(mac)),
            NdpOption::Mtu(mtu) => found.mtu = found.mtu.or(Some(mtu)),
            NdpOption::Unknown { .. } => {}
        }
    }
    Ok(found)
}

/// A Neighbor Discovery message, with the options the engine uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdpRepr {
    /// RFC 4861 §4.1.
    RouterSolicit { source_lladdr: Option<MacAddr> },
    /// RFC 4861 §4.2; prefix information and other options stay in the buffer.
    RouterAdvert {
        cur_hop_limit: u8,
        /// M (0x80), O (0x40) and the bits later RFCs defined, as sent.
        flags: u8,
        router_lifetime: u16,
        reachable_time: u32,
        retrans_timer: u32,
        source_lladdr: Option<MacAddr>,
        mtu: Option<u32>,
    },
    /// RFC 4861 §4.3.
    NeighborSolicit {
        target: Ipv6Addr,
        source_lladdr: Option<MacAddr>,
    },
    /// RFC 4861 §4.4.
    NeighborAdvert {
        flags: NeighborFlags,
        target: Ipv6Addr,
        target_lladdr: Option<MacAddr>,
    },
    /// RFC 4861 §4.5; a Redirected Header option is skipped.
    Redirect {
        target: Ipv6Addr,
        dest: Ipv6Addr,
        target_lladdr: Option<MacAddr>,
    },
}

impl NdpRepr {
    /// Whether `t` is one of the five Neighbor Discovery messages.
    pub fn is_ndp(t: Icmpv6Type) -> bool {
        matches!(u8::from(t), 133..=137)
    }

    /// Reads a Neighbor Discovery message; the checksum is [`super::Icmpv6Repr::parse`]'s.
    /// `Unsupported` for another ICMPv6 type; `Malformed` for a code other than 0 (RFC 4861
    /// §6.1.1, §6.1.2, §7.1.1, §7.1.2, §8.1: "ICMP Code is 0"); `Truncated` if the message is
    /// shorter than its fixed part (8, 16, 24, 24 and 40 bytes, the "ICMP length" checks of
    /// the same sections); option errors as the module documentation says.
    pub fn parse<T: AsRef<[u8]>>(packet: &Icmpv6Packet<T>) -> Result<NdpRepr> {
        packet.check_len()?;
        let msg = packet.bytes();
        let msg_type = packet.msg_type();
        if !NdpRepr::is_ndp(msg_type) {
            return Err(Error::Unsupported);
        }
        if packet.code() != 0 {
            return Err(Error::Malformed);
        }
        Ok(match msg_type {
            Icmpv6Type::RouterSolicit => {
                let found = scan_options(msg, field::RS_OPTIONS)?;
                NdpRepr::RouterSolicit {
                    source_lladdr: found.source,
                }
            }
            Icmpv6Type::RouterAdvert => parse_router_advert(msg)?,
            Icmpv6Type::NeighborSolicit => {
                let found = scan_options(msg, field::NS_NA_OPTIONS)?;
                NdpRepr::NeighborSolicit {
                    target: read_ipv6(msg, field::TARGET),
                    source_lladdr: found.source,
                }
            }
            Icmpv6Type::NeighborAdvert => {
                let found = scan_options(msg, field::NS_NA_OPTIONS)?;
                NdpRepr::NeighborAdvert {
                    flags: NeighborFlags(msg[field::NA_FLAGS] & NeighborFlags::MASK),
                    target: read_ipv6(msg, field::TARGET),
                    target_lladdr: found.target,
                }
            }
            _ => {
                let found = scan_options(msg, field::REDIRECT_OPTIONS)?;
                NdpRepr::Redirect {
                    target: read_ipv6(msg, field::TARGET),
                    dest: read_ipv6(msg, field::REDIRECT_DST),
                    target_lladdr: found.target,
                }
            }
        })
    }

    /// The ICMPv6 type this repr is written with.
    pub fn msg_type(&self) -> Icmpv6Type {
        match self {
            NdpRepr::RouterSolicit { .. } => Icmpv6Type::RouterSolicit,
            NdpRepr::RouterAdvert { .. } => Icmpv6Type::RouterAdvert,
            NdpRepr::NeighborSolicit { .. } => Icmpv6Type::NeighborSolicit,
            NdpRepr::NeighborAdvert { .. } => Icmpv6Type::NeighborAdvert,
            NdpRepr::Redirect { .. } => Icmpv6Type::Redirect,
        }
    }

    /// The fixed part and the options `emit` writes.
    pub fn buffer_len(&self) -> usize {
        let (fixed, options) = match *self {
            NdpRepr::RouterSolicit { source_lladdr } => {
                (field::RS_OPTIONS, usize::from(source_lladdr.is_some()))
            }
            NdpRepr::RouterAdvert {
                source_lladdr, mtu, ..
            } => (
                field::RA_OPTIONS,
                usize::from(source_lladdr.is_some()) + usize::from(mtu.is_some()),
            ),
            NdpRepr::NeighborSolicit { source_lladdr, .. } => {
                (field::NS_NA_OPTIONS, usize::from(source_lladdr.is_some()))
            }
            NdpRepr::NeighborAdvert { target_lladdr, .. } => {
                (field::NS_NA_OPTIONS, usize::from(target_lladdr.is_some()))
            }
            NdpRepr::Redirect { target_lladdr, .. } => (
                field::REDIRECT_OPTIONS,
                usize::from(target_lladdr.is_some()),
            ),
        };
        fixed + options * OPTION_LEN
    }

    /// Writes type, code 0, the fixed part (reserved bytes zero) and the options into a
    /// message of exactly `buffer_len()` bytes; the checksum is the caller's.
    pub(super) fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Icmpv6Packet<T>) {
        packet.set_msg_type(self.msg_type());
        packet.set_code(0);
        packet.set_rest_of_header(0);
        let msg = packet.bytes_mut();
        let end = self.emit_body(msg);
        debug_assert_eq!(end, msg.len());
    }

    /// Writes the fields after the first four bytes and the options; returns where they end.
    fn emit_body(&self, msg: &mut [u8]) -> usize {
        match *self {
            NdpRepr::RouterSolicit { source_lladdr } => {
                put_lladdr(msg, field::RS_OPTIONS, kind::SOURCE_LLADDR, source_lladdr)
            }
            NdpRepr::RouterAdvert {
                cur_hop_limit,
                flags,
                router_lifetime,
                reachable_time,
                retrans_timer,
                source_lladdr,
                mtu,
            } => {
                msg[field::RA_CUR_HOP_LIMIT] = cur_hop_limit;
                msg[field::RA_FLAGS] = flags;
                write_u16(msg, field::RA_ROUTER_LIFETIME, router_lifetime);
                write_u32(msg, field::RA_REACHABLE_TIME, reachable_time);
                write_u32(msg, field::RA_RETRANS_TIMER, retrans_timer);
                let at = put_lladdr(msg, field::RA_OPTIONS, kind::SOURCE_LLADDR, source_lladdr);
                put_mtu(msg, at, mtu)
            }
            NdpRepr::NeighborSolicit {
                target,
                source_lladdr,
            } => {
                write_ipv6(msg, field::TARGET, &target);
                put_lladdr(
                    msg,
                    field::NS_NA_OPTIONS,
                    kind::SOURCE_LLADDR,
                    source_lladdr,
                )
            }
            NdpRepr::NeighborAdvert {
                flags,
                target,
                target_lladdr,
            } => {
                msg[field::NA_FLAGS] = flags.0 & NeighborFlags::MASK;
                write_ipv6(msg, field::TARGET, &target);
                put_lladdr(
                    msg,
                    field::NS_NA_OPTIONS,
                    kind::TARGET_LLADDR,
                    target_lladdr,
                )
            }
            NdpRepr::Redirect {
                target,
                dest,
                target_lladdr,
            } => {
                write_ipv6(msg, field::TARGET, &target);
                write_ipv6(msg, field::REDIRECT_DST, &dest);
                put_lladdr(
                    msg,
                    field::REDIRECT_OPTIONS,
                    kind::TARGET_LLADDR,
                    target_lladdr,
                )
            }
        }
    }

    /// The validity checks of RFC 4861 that depend only on this message and the IPv6 header
    /// it came in (`Malformed` if one fails; parse has checked code, length and options):
    /// - every message: hop limit 255 (§6.1.1, §6.1.2, §7.1.1, §7.1.2, §8.1);
    /// - Router Solicitation: from the unspecified address, no source link-layer address
    ///   option (§6.1.1);
    /// - Router Advertisement and Redirect: from a link-local address (§6.1.2, §8.1);
    /// - Neighbor Solicitation and Advertisement: the target is not multicast (§7.1.1, §7.1.2);
    /// - Neighbor Solicitation from the unspecified address (duplicate address detection): to
    ///   a solicited-node address, without a source link-layer address option (§7.1.1);
    /// - Neighbor Advertisement to a multicast address: the Solicited flag is clear (§7.1.2);
    /// - Redirect: the destination is not multicast, and the target is link-local or the
    ///   destination itself (§8.1).
    ///
    /// Checks that need state (that a Redirect comes from the current first-hop router) are
    /// the caller's.
    pub fn validate(&self, ip: &Ipv6Repr) -> Result<()> {
        if ip.hop_limit == ND_HOP_LIMIT && self.valid_from(&ip.src, &ip.dst) {
            Ok(())
        } else {
            Err(Error::Malformed)
        }
    }

    fn valid_from(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        match *self {
            NdpRepr::RouterSolicit { source_lladdr } => {
                !src.is_unspecified() || source_lladdr.is_none()
            }
            NdpRepr::RouterAdvert { .. } => ipv6_addr::is_link_local(src),
            NdpRepr::NeighborSolicit {
                target,
                source_lladdr,
            } => {
                let dad_ok = ipv6_addr::is_solicited_node(dst) && source_lladdr.is_none();
                !target.is_multicast() && (!src.is_unspecified() || dad_ok)
            }
            NdpRepr::NeighborAdvert { flags, target, .. } => {
                let solicited_to_group =
                    dst.is_multicast() && flags.contains(NeighborFlags::SOLICITED);
                !target.is_multicast() && !solicited_to_group
            }
            NdpRepr::Redirect { target, dest, .. } => {
                ipv6_addr::is_link_local(src)
                    && !dest.is_multicast()
                    && (ipv6_addr::is_link_local(&target) || target == dest)
            }
        }
    }
}

fn parse_router_advert(msg: &[u8]) -> Result<NdpRepr> {
    let found = scan_options(msg, field::RA_OPTIONS)?;
    Ok(NdpRepr::RouterAdvert {
        cur_hop_limit: msg[field::RA_CUR_HOP_LIMIT],
        flags: msg[field::RA_FLAGS],
        router_lifetime: read_u16(msg, field::RA_ROUTER_LIFETIME),
        reachable_time: read_u32(msg, field::RA_REACHABLE_TIME),
        retrans_timer: read_u32(msg, field::RA_RETRANS_TIMER),
        source_lladdr: found.source,
        mtu: found.mtu,
    })
}

/// Writes an MTU option at `at` if there is an MTU (RFC 4861 §4.6.4: type 5, length 1, two
/// reserved bytes, the MTU); returns where the options now end.
fn put_mtu(msg: &mut [u8], at: usize, mtu: Option<u32>) -> usize {
    let Some(mtu) = mtu else {
        return at;
    };
    msg[at..at + 4].copy_from_slice(&[kind::MTU, 1, 0, 0]);
    write_u32(msg, at + 4..at + OPTION_LEN, mtu);
    at + OPTION_LEN
}

/// Writes a link-layer address option at `at` if there is an address (RFC 4861 §4.6.1 with
/// RFC 2464 §8: type, length 1, the six bytes); returns where the options now end.
fn put_lladdr(msg: &mut [u8], at: usize, kind: u8, mac: Option<MacAddr>) -> usize {
    let Some(mac) = mac else {
        return at;
    };
    msg[at] = kind;
    msg[at + 1] = 1;
    msg[at + 2..at + OPTION_LEN].copy_from_slice(&mac.octets());
    at + OPTION_LEN
}

#[cfg(test)]
mod tests {
    use super::super::{Icmpv6Repr, IpProtocol, hex};
    use super::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    const MAC_A: MacAddr = MacAddr([0x9e, 0x77, 0x06, 0xc7, 0xb8, 0xc5]);
    const MAC_B: MacAddr = MacAddr([0x8a, 0x4e, 0x98, 0x3d, 0xb0, 0x62]);

    fn ip(src: &str, dst: &str) -> Ipv6Repr {
        Ipv6Repr {
            src: a(src),
            dst: a(dst),
            next_header: IpProtocol::Icmpv6,
            payload_len: 32,
            hop_limit: 255,
            traffic_class: 0,
            flow_label: 0,
        }
    }

    /// Parses `msg` as it arrived under `ip`, checksum included.
    fn parse(msg: &[u8], ip: &Ipv6Repr) -> Result<NdpRepr> {
        let packet = Icmpv6Packet::new_checked(msg)?;
        match Icmpv6Repr::parse(&packet, &ip.src, &ip.dst, true)? {
            Icmpv6Repr::Ndp(ndp) => Ok(ndp),
            other => panic!("not NDP: {other:?}"),
        }
    }

    /// Emits `repr` from `ip.src` to `ip.dst`.
    fn emit(repr: NdpRepr, ip: &Ipv6Repr) -> Vec<u8> {
        let repr = Icmpv6Repr::Ndp(repr);
        let mut buf = vec![0xa5; repr.buffer_len()];
        repr.emit(&ip.src, &ip.dst, &mut buf);
        buf
    }

    #[test]
    fn real_neighbor_solicitation_and_advertisement() {
        // fd00::1 asks for fd00::2 at its solicited-node group; the kernel answers.
        let ns_ip = ip("fd00::1", "ff02::1:ff00:2");
        let ns = hex("8700219400000000 fd000000000000000000000000000002 01019e7706c7b8c5");
        let repr = parse(&ns, &ns_ip).unwrap();
        let expect = NdpRepr::NeighborSolicit {
            target: a("fd00::2"),
            source_lladdr: Some(MAC_A),
        };
        assert_eq!(repr, expect);
        assert_eq!(repr.validate(&ns_ip), Ok(()));
        assert_eq!(emit(repr, &ns_ip), ns);

        let na_ip = ip("fd00::2", "fd00::1");
        let na = hex("88004bad60000000 fd000000000000000000000000000002 02018a4e983db062");
        let repr = parse(&na, &na_ip).unwrap();
        let flags = NeighborFlags::SOLICITED | NeighborFlags::OVERRIDE;
        let expect = NdpRepr::NeighborAdvert {
            flags,
            target: a("fd00::2"),
            target_lladdr: Some(MAC_B),
        };
        assert_eq!(repr, expect);
        assert!(!flags.contains(NeighborFlags::ROUTER));
        assert_eq!(repr.validate(&na_ip), Ok(()));
        assert_eq!(emit(repr, &na_ip), na);
    }

    #[test]
    fn real_duplicate_address_detection_and_router_solicitation() {
        // DAD for fd00::1: from ::, with a Nonce option (14, RFC 7527) that is skipped.
        let dad_ip = ip("::", "ff02::1:ff00:1");
        let dad = hex("8700f1a300000000 fd000000000000000000000000000001 0e01d29f7ed62c82");
        let repr = parse(&dad, &dad_ip).unwrap();
        let expect = NdpRepr::NeighborSolicit {
            target: a("fd00::1"),
            source_lladdr: None,
        };
        assert_eq!(repr, expect);
        assert_eq!(repr.validate(&dad_ip), Ok(()));
        let mut options = NdpOptions::new(&dad[24..]);
        assert_eq!(options.next(), Some(Ok(NdpOption::Unknown { kind: 14 })));
        assert_eq!(options.next(), None);

        let rs_ip = ip("fe80::9c77:6ff:fec7:b8c5", "ff02::2");
        let rs = hex("8500c32500000000 01019e7706c7b8c5");
        let repr = parse(&rs, &rs_ip).unwrap();
        let expect = NdpRepr::RouterSolicit {
            source_lladdr: Some(MAC_A),
        };
        assert_eq!(repr, expect);
        assert_eq!(repr.validate(&rs_ip), Ok(()));
        assert_eq!(emit(repr, &rs_ip), rs);
    }

    #[test]
    fn malformed_messages_and_options() {
        let ip = ip("fd00::1", "ff02::1:ff00:2");
        let ns = hex("8700000000000000 fd000000000000000000000000000002");
        let with = |code: u8, tail: &[u8]| {
            let mut m = ns.clone();
            m[1] = code;
            m.extend_from_slice(tail);
            let mut p = Icmpv6Packet::new_unchecked(&mut m[..]);
            let sum = p.pseudo_header(&ip.src, &ip.dst);
            p.fill_checksum(sum);
            m
        };
        let cases: [(Vec<u8>, Error); 7] = [
            (with(1, &[]), Error::Malformed),                       // code 1
            (with(0, &[1, 0, 0, 0, 0, 0, 0, 0]), Error::Malformed), // length 0
            (with(0, &[1, 2, 0, 0, 0, 0, 0, 0]), Error::Truncated), // 16 bytes announced
            (with(0, &[1]), Error::Truncated),                      // no length byte
            (
                with(0, &[1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
                Error::Malformed,
            ),
            (
                with(0, &[5, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
                Error::Malformed,
            ),
            (with(0, &[])[..23].to_vec(), Error::Truncated), // shorter than the fixed part
        ];
        for (msg, err) in cases {
            let packet = Icmpv6Packet::new_checked(&msg[..]).unwrap();
            assert_eq!(NdpRepr::parse(&packet), Err(err), "{msg:02x?}");
        }
        // Duplicates: the first counts; a target address option in an NS is ignored.
        let twice = with(
            0,
            &hex("0101010101010101 0101020202020202 0201030303030303"),
        );
        let repr = parse(&twice, &ip).unwrap();
        let expect = NdpRepr::NeighborSolicit {
            target: a("fd00::2"),
            source_lladdr: Some(MacAddr([1; 6])),
        };
        assert_eq!(repr, expect);
        let echo = Icmpv6Packet::new_unchecked(&[128u8, 0, 0, 0, 0, 0, 0, 0][..]);
        assert_eq!(NdpRepr::parse(&echo), Err(Error::Unsupported));
    }

    #[test]
    fn validation_rules() {
        let target = a("fd00::2");
        let ns = |source_lladdr| NdpRepr::NeighborSolicit {
            target,
            source_lladdr,
        };
        let na = |flags, target| NdpRepr::NeighborAdvert {
            flags,
            target,
            target_lladdr: None,
        };
        let redirect = |target: &str, dest: &str| NdpRepr::Redirect {
            target: a(target),
            dest: a(dest),
            target_lladdr: None,
        };
        let rs = |source_lladdr| NdpRepr::RouterSolicit { source_lladdr };
        let ra = NdpRepr::RouterAdvert {
            cur_hop_limit: 64,
            flags: 0,
            router_lifetime: 1800,
            reachable_time: 0,
            retrans_timer: 0,
            source_lladdr: None,
            mtu: None,
        };
        let multicast_target = NdpRepr::NeighborSolicit {
            target: a("ff02::1"),
            source_lladdr: None,
        };
        let cases = [
            (ns(Some(MAC_A)), ip("fd00::1", "ff02::1:ff00:2"), true),
            (ns(Some(MAC_A)), ip("::", "ff02::1:ff00:2"), false), // DAD with an SLLA
            (ns(None), ip("::", "fd00::2"), false),               // DAD not to a group
            (ns(None), ip("::", "ff02::1:ff00:2"), true),
            (multicast_target, ip("fd00::1", "ff02::1:ff00:2"), false),
            (
                na(NeighborFlags::SOLICITED, target),
                ip("fd00::2", "ff02::1"),
                false,
            ),
            (
                na(NeighborFlags::OVERRIDE, target),
                ip("fd00::2", "ff02::1"),
                true,
            ),
            (
                na(NeighborFlags::default(), a("ff02::1")),
                ip("fd00::2", "fd00::1"),
                false,
            ),
            (rs(Some(MAC_A)), ip("::", "ff02::2"), false),
            (rs(None), ip("::", "ff02::2"), true),
            (ra, ip("fe80::1", "ff02::1"), true),
            (ra, ip("fd00::1", "ff02::1"), false),
            (
                redirect("fe80::9", "fd00::5"),
                ip("fe80::1", "fd00::1"),
                true,
            ),
            (
                redirect("fd00::5", "fd00::5"),
                ip("fe80::1", "fd00::1"),
                true,
            ),
            (
                redirect("fd00::6", "fd00::5"),
                ip("fe80::1", "fd00::1"),
                false,
            ),
            (
                redirect("fe80::9", "ff05::5"),
                ip("fe80::1", "fd00::1"),
                false,
            ),
            (
                redirect("fe80::9", "fd00::5"),
                ip("fd00::2", "fd00::1"),
                false,
            ),
        ];
        for (repr, ip, ok) in cases {
            assert_eq!(repr.validate(&ip).is_ok(), ok, "{repr:?} from {ip:?}");
            let lower = Ipv6Repr {
                hop_limit: 254,
                ..ip
            };
            assert_eq!(repr.validate(&lower), Err(Error::Malformed));
        }
    }

    #[test]
    fn router_advertisement_and_redirect_round_trip() {
        let ip = ip("fe80::1", "ff02::1");
        let ra = NdpRepr::RouterAdvert {
            cur_hop_limit: 64,
            flags: 0xc0,
            router_lifetime: 1800,
            reachable_time: 30_000,
            retrans_timer: 1000,
            source_lladdr: Some(MAC_B),
            mtu: Some(1500),
        };
        let buf = emit(ra, &ip);
        assert_eq!(buf.len(), 32);
        assert_eq!(buf[24..], [5, 1, 0, 0, 0, 0, 0x05, 0xdc]);
        assert_eq!(parse(&buf, &ip), Ok(ra));
        let redirect = NdpRepr::Redirect {
            target: a("fe80::9"),
            dest: a("fd00::5"),
            target_lladdr: Some(MAC_A),
        };
        let buf = emit(redirect, &ip);
        assert_eq!(buf.len(), 48);
        assert_eq!(parse(&buf, &ip), Ok(redirect));
    }
}
