//! The IPv6 extension-header chain (RFC 8200 §4): a walk from the fixed header's Next Header
//! through Hop-by-Hop Options (0), Routing (43), Fragment (44) and Destination Options (60) to
//! the upper-layer header (TCP, ICMPv6, UDP, No Next Header, or anything else).
//!
//! [`walk_ext_headers`] answers, in one bounded pass that allocates nothing and never panics:
//! - `Ok(`[`Ipv6ExtHeaders`]`)`: the upper-layer protocol, where its header starts, the offset of
//!   the Next Header field that named it, and what was passed on the way (Hop-by-Hop, a Routing
//!   header with Segments Left 0, a Fragment header). The IP layer then drops fragments
//!   ([`Ipv6ExtHeaders::is_fragment`]; the engine does not reassemble), delivers TCP and ICMPv6,
//!   drops No Next Header silently (RFC 8200 §4.7), and answers anything else, including a
//!   Hop-by-Hop header that is not first, with `Ip6InUnknownProtos` and a Parameter Problem code 1
//!   at [`Ipv6ExtHeaders::next_header_pointer`] (RFC 8200 §4, as Linux's
//!   `ip6_protocol_deliver_rcu`).
//! - `Err(`[`ExtHeaderError`]`)`: the packet must be dropped and counted as `Ip6InHdrErrors`;
//!   [`ExtHeaderError::param_problem`] says whether an ICMPv6 Parameter Problem goes back and
//!   with which code and pointer.
//!
//! Choices, each after RFC 8200 and Linux:
//! - Options of Hop-by-Hop and Destination Options headers are walked here, not by the caller:
//!   the engine recognises only Pad1 and PadN, so every other option is unrecognised and its type's
//!   two high bits decide (RFC 8200 §4.2); the first one that says "discard" ends the walk with
//!   [`ExtHeaderError::Option`]. Padding is checked as Linux's `ip6_parse_tlv` does (no more
//!   than 7 bytes in a row, PadN bytes zero: RFC 4942 §2.1.9.5).
//! - The engine implements no Routing type, so a Routing header with Segments Left > 0 is an
//!   error (RFC 8200 §4.4), and one with Segments Left 0 is passed over.
//! - A Fragment header with offset 0 is passed over, so the headers of a first fragment and of an
//!   atomic fragment (offset 0, M clear; RFC 6946 §4: process it as a whole packet) are walked;
//!   one with a non-zero offset ends the walk, since what follows is not a header.
//! - At most [`MAX_EXT_HEADERS`] extension headers (RFC 8504 §5.3 lets a host limit them).
//! - Authentication (51) and ESP (50) headers are not walked: the engine has no IPsec, so they
//!   are unknown upper-layer protocols.
//!
//! Invariants of an `Ok` result: `offset <= payload.len()`, `count <= MAX_EXT_HEADERS`.

use super::ipv4::IpProtocol;

/// The most extension headers [`walk_ext_headers`] passes before giving up (`TooMany`).
pub const MAX_EXT_HEADERS: usize = 8;

/// The fixed IPv6 header's length: pointers count from its first byte (RFC 4443 §3.4).
const FIXED_HEADER_LEN: usize = 40;
/// Where the fixed header's Next Header field is.
const FIXED_NEXT_HEADER: usize = 6;

/// Option types with a meaning of their own (RFC 8200 §4.2).
const OPT_PAD1: u8 = 0;
const OPT_PADN: u8 = 1;
/// Linux's `ip6_parse_tlv`: a header needs at most 7 bytes of padding (RFC 4942 §2.1.9.5).
const MAX_PADDING: usize = 7;

/// A Fragment header (RFC 8200 §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Fragment {
    /// The fragment offset in bytes (the field counts 8-byte units).
    pub offset: u16,
    /// The M flag: more fragments follow.
    pub more: bool,
    pub ident: u32,
}

impl Ipv6Fragment {
    /// Offset 0 and M clear: a whole packet in a Fragment header (RFC 6946).
    pub const fn is_atomic(&self) -> bool {
        self.offset == 0 && !self.more
    }
}

/// A Routing header that was passed over (its Segments Left was 0, RFC 8200 §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Routing {
    pub routing_type: u8,
    pub segments_left: u8,
}

/// Where the walk ended, and what it passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6ExtHeaders {
    /// The upper-layer protocol, or, after a non-first fragment, the Fragment header's Next
    /// Header (then nothing after it is a header: check [`Ipv6ExtHeaders::is_fragment`]).
    pub protocol: IpProtocol,
    /// Where the upper-layer header starts, from the start of the walked payload.
    pub offset: usize,
    /// The offset of the Next Header field naming `protocol`, from the start of the IPv6
    /// header: the pointer of a Parameter Problem code 1 (RFC 4443 §3.4).
    pub next_header_pointer: usize,
    /// How many extension headers were passed.
    pub count: usize,
    pub hop_by_hop: bool,
    /// The last Routing header passed (Segments Left 0).
    pub routing: Option<Ipv6Routing>,
    /// The first Fragment header seen.
    pub fragment: Option<Ipv6Fragment>,
}

impl Ipv6ExtHeaders {
    /// A Fragment header that is not atomic was seen: the packet is part of a fragmented one,
    /// which the engine does not reassemble (count `Ip6ReasmReqds` and `Ip6ReasmFails`).
    pub fn is_fragment(&self) -> bool {
        self.fragment.is_some_and(|f| !f.is_atomic())
    }

    /// The upper-layer header and what follows it, out of the walked `payload`.
    pub fn upper_layer<'a>(&self, payload: &'a [u8]) -> &'a [u8] {
        payload.get(self.offset..).unwrap_or(&[])
    }
}

/// What to do with an unrecognised option: the two high bits of its type (RFC 8200 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptionAction {
    /// 00: skip over the option and go on.
    Skip,
    /// 01: discard the packet.
    Discard,
    /// 10: discard and send a Parameter Problem, code 2, whatever the destination.
    DiscardIcmp,
    /// 11: discard and send a Parameter Problem, code 2, unless the destination is multicast.
    DiscardIcmpUnlessMulticast,
}

impl OptionAction {
    /// The action an option type asks for when it is not recognised.
    pub const fn of(option_type: u8) -> OptionAction {
        match option_type >> 6 {
            0 => OptionAction::Skip,
            1 => OptionAction::Discard,
            2 => OptionAction::DiscardIcmp,
            _ => OptionAction::DiscardIcmpUnlessMulticast,
        }
    }
}

/// Why a packet's extension headers make it unacceptable. Every one is `Ip6InHdrErrors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ExtHeaderError {
    /// A header runs past the payload. Dropped silently (Linux: `pskb_may_pull` fails).
    #[error("extension header truncated")]
    Truncated,
    /// A Hop-by-Hop or Destination Options area that does not parse: an option running past
    /// the header, more than 7 padding bytes in a row, a non-zero PadN byte. Dropped silently.
    #[error("malformed options")]
    BadOptions,
    /// More than [`MAX_EXT_HEADERS`] extension headers. Dropped silently.
    #[error("too many extension headers")]
    TooMany,
    /// An unrecognised option whose type says to discard (RFC 8200 §4.2). `pointer` is the
    /// offset of its type byte from the start of the IPv6 header.
    #[error("unrecognised option")]
    Option {
        action: OptionAction,
        pointer: usize,
    },
    /// A Routing header with Segments Left > 0, of a type the engine does not implement
    /// (RFC 8200 §4.4). `pointer` is the offset of its Routing Type byte.
    #[error("unrecognised routing header")]
    Routing { pointer: usize },
}

impl ExtHeaderError {
    /// The ICMPv6 Parameter Problem `(code, pointer)` to send back, if any: code 2 at the option
    /// as its type asks (RFC 8200 §4.2), code 0 at the Routing Type (RFC 8200 §4.4) unless the
    /// destination is multicast (RFC 4443 §2.4 (e.3) forbids errors to multicast but for code 2
    /// of an option of type `10xxxxxx`). The other errors are silent. The sender's other limits
    /// (no error about a packet from the unspecified or a multicast source, RFC 4443 §2.4 (e);
    /// rate limiting, §2.4 (f)) are the caller's.
    pub fn param_problem(&self, dst_is_multicast: bool) -> Option<(u8, u32)> {
        let (code, pointer, to_multicast) = match *self {
            ExtHeaderError::Option {
                action: OptionAction::DiscardIcmp,
                pointer,
            } => (2, pointer, true),
            ExtHeaderError::Option {
                action: OptionAction::DiscardIcmpUnlessMulticast,
                pointer,
            } => (2, pointer, false),
            ExtHeaderError::Routing { pointer } => (0, pointer, false),
            _ => return None,
        };
        if dst_is_multicast && !to_multicast {
            return None;
        }
        Some((code, u32::try_from(pointer).unwrap_or(u32::MAX)))
    }
}

type WalkResult<T> = core::result::Result<T, ExtHeaderError>;

/// Walks the extension headers of an IPv6 payload (`payload`, the bytes after the fixed header,
/// as [`super::Ipv6Packet::payload`] gives them), starting from the fixed header's Next Header.
/// See the module documentation for what the result means and what the IP layer does with it.
pub fn walk_ext_headers(next_header: IpProtocol, payload: &[u8]) -> WalkResult<Ipv6ExtHeaders> {
    let mut ext = Ipv6ExtHeaders {
        protocol: next_header,
        offset: 0,
        next_header_pointer: FIXED_NEXT_HEADER,
        count: 0,
        hop_by_hop: false,
        routing: None,
        fragment: None,
    };
    loop {
        // RFC 8200 §4.3: Hop-by-Hop only right after the fixed header; elsewhere it is an
        // unrecognised Next Header, as in Linux.
        let walkable = match ext.protocol {
            IpProtocol::HopByHop => ext.count == 0,
            IpProtocol::Ipv6Route | IpProtocol::Ipv6Frag | IpProtocol::Ipv6Opts => true,
            _ => false,
        };
        if !walkable {
            return Ok(ext);
        }
        if ext.count == MAX_EXT_HEADERS {
            return Err(ExtHeaderError::TooMany);
        }
        let at = ext.offset;
        let header = one_header(ext.protocol, payload.get(at..).unwrap_or(&[]))?;
        let go_on = examine(&mut ext, header, FIXED_HEADER_LEN + at)?;
        ext.count += 1;
        ext.next_header_pointer = FIXED_HEADER_LEN + at;
        ext.protocol = IpProtocol::from(header[0]);
        ext.offset = at + header.len();
        if !go_on {
            return Ok(ext);
        }
    }
}

/// The bytes of the extension header at the start of `rest`: 8 for a Fragment header
/// (RFC 8200 §4.5), else `(Hdr Ext Len + 1) * 8` (RFC 8200 §4.3, §4.4, §4.6).
fn one_header(kind: IpProtocol, rest: &[u8]) -> WalkResult<&[u8]> {
    if rest.len() < 8 {
        return Err(ExtHeaderError::Truncated);
    }
    let len = match kind {
        IpProtocol::Ipv6Frag => 8,
        _ => (usize::from(rest[1]) + 1) * 8,
    };
    rest.get(..len).ok_or(ExtHeaderError::Truncated)
}

/// Checks one header and records it; `Ok(false)` when the walk must stop after it. `pointer`
/// is the header's offset from the start of the IPv6 header.
fn examine(ext: &mut Ipv6ExtHeaders, header: &[u8], pointer: usize) -> WalkResult<bool> {
    match ext.protocol {
        IpProtocol::Ipv6Frag => {
            let word = u16::from_be_bytes([header[2], header[3]]);
            let fragment = Ipv6Fragment {
                offset: word & !0x7,
                more: word & 1 != 0,
                ident: u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
            };
            ext.fragment.get_or_insert(fragment);
            Ok(fragment.offset == 0)
        }
        IpProtocol::Ipv6Route => {
            let routing = Ipv6Routing {
                routing_type: header[2],
                segments_left: header[3],
            };
            if routing.segments_left > 0 {
                return Err(ExtHeaderError::Routing {
                    pointer: pointer + 2,
                });
            }
            ext.routing = Some(routing);
            Ok(true)
        }
        // Hop-by-Hop or Destination Options: type-length-value options after two bytes.
        kind => {
            ext.hop_by_hop |= kind == IpProtocol::HopByHop;
            check_options(&header[2..], pointer + 2)?;
            Ok(true)
        }
    }
}

/// Walks the options of a Hop-by-Hop or Destination Options header (RFC 8200 §4.2); `pointer`
/// is the offset of `options` from the start of the IPv6 header.
fn check_options(options: &[u8], pointer: usize) -> WalkResult<()> {
    let mut at = 0;
    let mut padding = 0;
    while let Some(&kind) = options.get(at) {
        if kind == OPT_PAD1 {
            padding += 1;
            at += 1;
        } else {
            let value_len = usize::from(*options.get(at + 1).ok_or(ExtHeaderError::BadOptions)?);
            let end = at + 2 + value_len;
            let value = options.get(at + 2..end).ok_or(ExtHeaderError::BadOptions)?;
            if kind == OPT_PADN {
                if value.iter().any(|&b| b != 0) {
                    return Err(ExtHeaderError::BadOptions);
                }
                padding += 2 + value_len;
            } else {
                padding = 0;
                let action = OptionAction::of(kind);
                if action != OptionAction::Skip {
                    let pointer = pointer + at;
                    return Err(ExtHeaderError::Option { action, pointer });
                }
            }
            at = end;
        }
        if padding > MAX_PADDING {
            return Err(ExtHeaderError::BadOptions);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::hex;
    use super::*;

    /// The payload of a Linux MLDv2 report: Hop-by-Hop with Router Alert (type 5, value 0) and
    /// a PadN of two bytes, then 48 bytes of ICMPv6 (type 143).
    fn mld_report() -> Vec<u8> {
        let mut p = hex("3a000502000001008f00b3e200000002");
        p.resize(56, 0);
        p
    }

    /// An 8-byte extension header whose Next Header is `next`.
    fn header(next: u8, rest: [u8; 6]) -> Vec<u8> {
        let mut h = vec![next, 0];
        h.extend_from_slice(&rest);
        h
    }

    #[test]
    fn walks_a_real_hop_by_hop_header() {
        let p = mld_report();
        let ext = walk_ext_headers(IpProtocol::HopByHop, &p).unwrap();
        assert_eq!(ext.protocol, IpProtocol::Icmpv6);
        assert_eq!((ext.offset, ext.next_header_pointer, ext.count), (8, 40, 1));
        assert!(ext.hop_by_hop && !ext.is_fragment());
        assert_eq!(ext.upper_layer(&p)[0], 143);
        // Nothing to walk: the fixed header names the upper layer.
        let ext = walk_ext_headers(IpProtocol::Tcp, &p).unwrap();
        assert_eq!(
            (ext.protocol, ext.offset, ext.next_header_pointer),
            (IpProtocol::Tcp, 0, 6)
        );
    }

    #[test]
    fn walks_a_real_destination_options_header() {
        // Linux UDP with a Destination Options header: option 0x1e (skip if unknown), PadN.
        let p = hex("11001e02abcd0100 b0ac270f000dea41 68656c6c6f");
        let ext = walk_ext_headers(IpProtocol::Ipv6Opts, &p).unwrap();
        assert_eq!(
            (ext.protocol, ext.offset, ext.count),
            (IpProtocol::Udp, 8, 1)
        );
        assert!(!ext.hop_by_hop);
    }

    #[test]
    fn fragments() {
        // Linux's first fragment of a 2048-byte ping: offset 0, M set, ident 0xf7458d8c.
        let first = hex("3a000001f7458d8c 8000a5bf68d00001");
        let ext = walk_ext_headers(IpProtocol::Ipv6Frag, &first).unwrap();
        let frag = Ipv6Fragment {
            offset: 0,
            more: true,
            ident: 0xf745_8d8c,
        };
        assert_eq!(ext.fragment, Some(frag));
        assert_eq!((ext.protocol, ext.offset), (IpProtocol::Icmpv6, 8));
        assert!(ext.is_fragment());
        // The second: offset 1448, M clear; the walk stops at the fragment data.
        let second = hex("3a0005a8f7458d8c 00000000");
        let ext = walk_ext_headers(IpProtocol::Ipv6Frag, &second).unwrap();
        assert_eq!(
            ext.fragment.map(|f| (f.offset, f.more)),
            Some((1448, false))
        );
        assert!(ext.is_fragment());
        // An atomic fragment is walked through to the header after it.
        let mut atomic = header(60, [0, 0, 0, 0, 0, 1]);
        atomic.extend(header(6, [1, 4, 0, 0, 0, 0]));
        let ext = walk_ext_headers(IpProtocol::Ipv6Frag, &atomic).unwrap();
        assert!(!ext.is_fragment() && ext.fragment.unwrap().is_atomic());
        assert_eq!(
            (ext.protocol, ext.offset, ext.count),
            (IpProtocol::Tcp, 16, 2)
        );
        assert_eq!(ext.next_header_pointer, 48);
    }

    #[test]
    fn routing_headers() {
        let mut p = header(6, [0, 0, 0, 0, 0, 0]);
        p[2] = 4; // a Segment Routing header, Segments Left 0
        let ext = walk_ext_headers(IpProtocol::Ipv6Route, &p).unwrap();
        let routing = Ipv6Routing {
            routing_type: 4,
            segments_left: 0,
        };
        assert_eq!(
            (ext.protocol, ext.routing),
            (IpProtocol::Tcp, Some(routing))
        );
        p[3] = 1;
        let mut chain = header(43, [1, 4, 0, 0, 0, 0]);
        chain.extend_from_slice(&p);
        let err = walk_ext_headers(IpProtocol::Ipv6Opts, &chain).unwrap_err();
        assert_eq!(err, ExtHeaderError::Routing { pointer: 50 });
        assert_eq!(err.param_problem(false), Some((0, 50)));
        assert_eq!(err.param_problem(true), None);
    }

    #[test]
    fn option_actions() {
        let cases = [
            (0x05, None), // Router Alert: 00, skipped
            (0x45, Some(OptionAction::Discard)),
            (0x85, Some(OptionAction::DiscardIcmp)),
            (0xc2, Some(OptionAction::DiscardIcmpUnlessMulticast)), // Jumbo Payload
        ];
        for (kind, action) in cases {
            let p = header(59, [1, 0, kind, 2, 0, 0]); // PadN(0), then the option
            let got = walk_ext_headers(IpProtocol::HopByHop, &p);
            match action {
                None => assert_eq!(got.unwrap().protocol, IpProtocol::Ipv6NoNxt),
                Some(action) => {
                    let err = got.unwrap_err();
                    assert_eq!(
                        err,
                        ExtHeaderError::Option {
                            action,
                            pointer: 44
                        }
                    );
                    let expect = |m: bool| match action {
                        OptionAction::DiscardIcmp => Some((2, 44)),
                        OptionAction::DiscardIcmpUnlessMulticast if !m => Some((2, 44)),
                        _ => None,
                    };
                    assert_eq!(err.param_problem(false), expect(false));
                    assert_eq!(err.param_problem(true), expect(true));
                }
            }
        }
    }

    #[test]
    fn malformed_chains() {
        let (trunc, bad) = (ExtHeaderError::Truncated, ExtHeaderError::BadOptions);
        let mut long = header(6, [0; 6]);
        long[1] = 1; // 16 bytes announced, 8 there
        let mut pad14 = long.clone();
        pad14.extend_from_slice(&[0; 8]); // 14 Pad1 bytes in a row
        let cases: [(IpProtocol, Vec<u8>, ExtHeaderError); 7] = [
            (IpProtocol::HopByHop, vec![6, 0, 1, 0], trunc),
            (IpProtocol::Ipv6Frag, vec![6, 0, 0, 0, 0, 0, 0], trunc),
            (IpProtocol::Ipv6Opts, long, trunc),
            (IpProtocol::Ipv6Opts, pad14, bad),
            (IpProtocol::Ipv6Opts, header(6, [1, 5, 0, 0, 0, 0]), bad), // PadN past the end
            (IpProtocol::Ipv6Opts, header(6, [1, 4, 0, 1, 0, 0]), bad), // non-zero PadN
            (IpProtocol::Ipv6Opts, header(6, [1, 2, 0, 0, 0, 5]), bad), // no length byte
        ];
        for (first, bytes, err) in cases {
            assert_eq!(walk_ext_headers(first, &bytes), Err(err), "{bytes:02x?}");
        }
        // Six Pad1 bytes are fine.
        assert!(walk_ext_headers(IpProtocol::Ipv6Opts, &header(6, [0; 6])).is_ok());
    }

    #[test]
    fn the_walk_is_bounded_and_hop_by_hop_comes_first() {
        let chain = |n: usize| {
            let mut p = Vec::new();
            for i in 0..n {
                p.extend(header(if i + 1 == n { 6 } else { 60 }, [1, 4, 0, 0, 0, 0]));
            }
            p
        };
        let ext = walk_ext_headers(IpProtocol::Ipv6Opts, &chain(MAX_EXT_HEADERS)).unwrap();
        assert_eq!(
            (ext.protocol, ext.count),
            (IpProtocol::Tcp, MAX_EXT_HEADERS)
        );
        let too_many = chain(MAX_EXT_HEADERS + 1);
        assert_eq!(
            walk_ext_headers(IpProtocol::Ipv6Opts, &too_many),
            Err(ExtHeaderError::TooMany)
        );
        // Hop-by-Hop after another header is an unrecognised Next Header, named at byte 40.
        let p = header(0, [1, 4, 0, 0, 0, 0]);
        let ext = walk_ext_headers(IpProtocol::Ipv6Opts, &p).unwrap();
        assert_eq!(
            (ext.protocol, ext.next_header_pointer),
            (IpProtocol::HopByHop, 40)
        );
        assert_eq!(ext.offset, 8);
    }
}
