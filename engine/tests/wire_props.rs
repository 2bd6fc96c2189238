//! Property tests of `engine::wire` for Ethernet, ARP, IPv4, ICMP and TCP, seeded and
//! deterministic (`engine::rand::Rng`); `wire_props_v6.rs` does the same for IPv6, and
//! `props` holds what the two share (the pokes, the random reprs):
//!
//! - no view, repr parser or option iterator (IPv6 ones included) panics on random bytes, nor
//!   on valid ARP, IPv4+TCP and IPv4+ICMP frames that were mutated (bytes flipped, truncated,
//!   length fields rewritten), which reach the code behind the length checks (ARCHITECTURE
//!   decision 11);
//! - `parse(emit(repr)) == repr` for random reprs of every header;
//! - an emitted checksum verifies, and flipping any one byte makes it fail.

mod props;

use std::collections::HashMap;
use std::net::Ipv4Addr;

use engine::rand::Rng;
use engine::wire::{
    ArpPacket, ArpRepr, Error, EtherType, EthernetFrame, EthernetRepr, IcmpPacket, IcmpRepr,
    IpProtocol, Ipv4Packet, Ipv4Repr, SeqNum, TcpPacket, TcpRepr,
};
use props::poke::{poke_arp, poke_ethernet, poke_everything, poke_icmp, poke_ipv4, poke_tcp};
use props::reprs::{arp_repr, ethernet_repr, icmp_repr, ip, ipv4_repr, tcp_repr, u8r, u16r};
use props::{ETH, FUZZ_CASES, ROUND_TRIPS, must_not_panic, set_nibble, set_u16};

// ---- valid frames to mutate ----

/// A random valid frame: ARP, IPv4+TCP with options and payload, or IPv4+ICMP, maybe padded.
fn valid_frame(rng: &mut Rng) -> Vec<u8> {
    let kind = rng.below(3);
    let ethertype = if kind == 0 {
        EtherType::Arp
    } else {
        EtherType::Ipv4
    };
    let eth = EthernetRepr {
        ethertype,
        ..ethernet_repr(rng)
    };
    let mut frame = vec![0u8; ETH];
    eth.emit(&mut frame);
    match kind {
        0 => {
            frame.resize(ETH + 28, 0);
            arp_repr(rng).emit(&mut frame[ETH..]);
        }
        1 => push_tcp(rng, &mut frame),
        _ => push_icmp(rng, &mut frame),
    }
    if rng.chance(0.2) {
        frame.resize(frame.len() + rng.below(20) as usize, 0);
    }
    frame
}

fn push_tcp(rng: &mut Rng, frame: &mut Vec<u8>) {
    let tcp = tcp_repr(rng);
    let payload_len = rng.below(40) as usize;
    let seg_len = tcp.buffer_len(payload_len);
    let ip = ipv4_repr(rng, IpProtocol::Tcp, seg_len as u16);
    frame.resize(ETH + ip.buffer_len(), 0);
    ip.emit(&mut frame[ETH..], true);
    let seg = &mut frame[ETH + 20..];
    tcp.emit(seg);
    rng.fill(&mut seg[tcp.header_len()..]);
    TcpPacket::new_unchecked(seg).fill_checksum(ip.src, ip.dst);
}

fn push_icmp(rng: &mut Rng, frame: &mut Vec<u8>) {
    let data_len = rng.below(40) as usize;
    let icmp = icmp_repr(rng, data_len);
    let ip = ipv4_repr(rng, IpProtocol::Icmp, icmp.buffer_len() as u16);
    frame.resize(ETH + ip.buffer_len(), 0);
    ip.emit(&mut frame[ETH..], true);
    rng.fill(&mut frame[ETH + 28..]);
    icmp.emit(&mut frame[ETH + 20..]);
}

/// One to four mutations aimed at the fields the parsers trust least.
fn mutate(rng: &mut Rng, frame: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(4) {
        let len = frame.len();
        if len == 0 {
            return;
        }
        let at = rng.below(len as u64) as usize;
        match rng.below(9) {
            0 => frame[at] ^= 1 << rng.below(8),
            1 => frame[at] = u8r(rng),
            2 => frame.truncate(at),
            3 => set_nibble(frame, ETH, rng.below(16) as u8, rng.chance(0.2)), // version or IHL
            4 => set_u16(
                frame,
                ETH + 2,
                len.saturating_sub(ETH) as i64 + rng.below(9) as i64 - 4,
            ),
            5 => {
                let at = tcp_offset(frame) + 12;
                set_nibble(frame, at, rng.below(16) as u8, true);
            }
            6 => set_option_len(rng, frame),
            7 => set_u16(frame, ETH + 6, i64::from(u16r(rng) & 0x3fff)), // fragment bits
            _ => frame.extend((0..rng.below(16)).map(|_| u8r(rng))),
        }
    }
    // Half the time, make the IPv4 checksum right again, so the mutation reaches the layer above.
    if rng.chance(0.5)
        && let Some(Ok(mut ip)) = frame.get_mut(ETH..).map(Ipv4Packet::new_checked)
    {
        ip.fill_checksum();
    }
}

/// Where the TCP header would start, from the (possibly mutated) IHL.
fn tcp_offset(frame: &[u8]) -> usize {
    ETH + frame.get(ETH).map_or(20, |b| usize::from(b & 0x0f) * 4)
}

/// Puts a small or random value into a byte of the TCP option area, often a length byte.
fn set_option_len(rng: &mut Rng, frame: &mut [u8]) {
    let at = tcp_offset(frame) + 20 + rng.below(40) as usize;
    if let Some(b) = frame.get_mut(at) {
        *b = if rng.chance(0.7) {
            rng.below(12) as u8
        } else {
            u8r(rng)
        };
    }
}

// ---- the tests ----

#[test]
fn no_panic_on_random_bytes() {
    let mut rng = Rng::new(0x5eed_0001);
    let mut buf = [0u8; 128];
    for _ in 0..FUZZ_CASES {
        let len = rng.below(129) as usize;
        rng.fill(&mut buf[..len]);
        must_not_panic(&buf[..len], poke_everything);
    }
}

#[test]
fn no_panic_on_mutated_packets() {
    let mut rng = Rng::new(0x5eed_0002);
    let (src, dst) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
    let mut outcomes: HashMap<Outcome, usize> = HashMap::new();
    for _ in 0..FUZZ_CASES {
        let mut frame = valid_frame(&mut rng);
        mutate(&mut rng, &mut frame);
        must_not_panic(&frame, |b| {
            poke_ethernet(b);
            // Also each layer on its own, so a broken outer header does not hide the inner one.
            let inner = b.get(ETH..).unwrap_or(&[]);
            poke_ipv4(inner);
            poke_arp(inner);
            let l4 = b.get(tcp_offset(b)..).unwrap_or(&[]);
            poke_tcp(l4, src, dst);
            poke_icmp(l4);
        });
        *outcomes.entry(outcome(&frame)).or_default() += 1;
    }
    // The mutations must reach every rejection and get past every check.
    for expected in [
        Outcome::Ipv4(Err(Error::Truncated)),
        Outcome::Ipv4(Err(Error::BadVersion)),
        Outcome::Ipv4(Err(Error::BadHeaderLen)),
        Outcome::Ipv4(Err(Error::BadTotalLen)),
        Outcome::Ipv4(Err(Error::BadChecksum)),
        Outcome::Ipv4(Err(Error::Unsupported)),
        Outcome::Tcp(Err(Error::Truncated)),
        Outcome::Icmp(Err(Error::Truncated)),
        Outcome::Tcp(Err(Error::BadHeaderLen)),
        Outcome::Tcp(Err(Error::Malformed)),
        Outcome::Tcp(Ok(false)),
        Outcome::Tcp(Ok(true)),
        Outcome::Icmp(Ok(true)),
        Outcome::Arp(Ok(true)),
        Outcome::Arp(Err(Error::Unsupported)),
    ] {
        let n = outcomes.get(&expected).copied().unwrap_or(0);
        assert!(n >= 100, "{expected:?} reached {n} times: {outcomes:?}");
    }
}

/// How far a mutated frame gets: the first layer that rejects it, or the last that accepts it
/// (`Ok(checksum verifies)` for TCP and ICMP, `Ok(true)` for ARP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Outcome {
    Ethernet(Error),
    OtherEtherType,
    Arp(Result<bool, Error>),
    Ipv4(Result<(), Error>),
    Tcp(Result<bool, Error>),
    Icmp(Result<bool, Error>),
    OtherProtocol,
}

fn outcome(b: &[u8]) -> Outcome {
    let eth = match EthernetFrame::new_checked(b) {
        Ok(eth) => eth,
        Err(e) => return Outcome::Ethernet(e),
    };
    match eth.ethertype() {
        EtherType::Arp => {
            let arp = ArpPacket::new_checked(eth.payload()).and_then(|p| ArpRepr::parse(&p));
            return Outcome::Arp(arp.map(|_| true));
        }
        EtherType::Ipv4 => {}
        _ => return Outcome::OtherEtherType,
    }
    let ip = match Ipv4Packet::new_checked(eth.payload()) {
        Ok(ip) => ip,
        Err(e) => return Outcome::Ipv4(Err(e)),
    };
    let repr = match Ipv4Repr::parse(&ip, true) {
        Ok(repr) => repr,
        Err(e) => return Outcome::Ipv4(Err(e)),
    };
    match repr.protocol {
        IpProtocol::Tcp => Outcome::Tcp(
            TcpPacket::new_checked(ip.payload())
                .and_then(|p| TcpRepr::parse(&p).map(|_| p.verify_checksum(repr.src, repr.dst))),
        ),
        IpProtocol::Icmp => Outcome::Icmp(
            IcmpPacket::new_checked(ip.payload())
                .and_then(|p| IcmpRepr::parse(&p, false).map(|_| p.verify_checksum())),
        ),
        _ => Outcome::OtherProtocol,
    }
}

#[test]
fn valid_frames_parse_all_the_way() {
    let mut rng = Rng::new(0x5eed_0003);
    for _ in 0..ROUND_TRIPS {
        let frame = valid_frame(&mut rng);
        let eth = EthernetFrame::new_checked(&frame[..]).unwrap();
        if eth.ethertype() == EtherType::Arp {
            ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).unwrap()).unwrap();
            continue;
        }
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        let ip_repr = Ipv4Repr::parse(&ip, true).unwrap();
        assert_eq!(usize::from(ip_repr.payload_len), ip.payload().len());
        if ip_repr.protocol == IpProtocol::Tcp {
            let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
            assert!(tcp.verify_checksum(ip_repr.src, ip_repr.dst));
            TcpRepr::parse(&tcp).unwrap();
        } else {
            IcmpRepr::parse(&IcmpPacket::new_checked(ip.payload()).unwrap(), true).unwrap();
        }
    }
}

#[test]
fn round_trip_ethernet_and_arp() {
    let mut rng = Rng::new(0x5eed_0004);
    for _ in 0..ROUND_TRIPS {
        let repr = ethernet_repr(&mut rng);
        let mut buf = vec![0u8; repr.buffer_len(rng.below(64) as usize)];
        repr.emit(&mut buf);
        assert_eq!(
            EthernetRepr::parse(&EthernetFrame::new_checked(&buf[..]).unwrap()),
            Ok(repr)
        );

        let repr = arp_repr(&mut rng);
        let mut buf = [0u8; 28];
        repr.emit(&mut buf);
        assert_eq!(
            ArpRepr::parse(&ArpPacket::new_checked(&buf[..]).unwrap()),
            Ok(repr)
        );
    }
}

#[test]
fn round_trip_ipv4_and_checksum() {
    let mut rng = Rng::new(0x5eed_0005);
    let mut buf = vec![0u8; 0xffff];
    for _ in 0..ROUND_TRIPS {
        let payload_len = if rng.chance(0.9) {
            rng.below(1500)
        } else {
            rng.below(0xffff - 19)
        };
        let protocol = IpProtocol::from(u8r(&mut rng));
        let repr = ipv4_repr(&mut rng, protocol, payload_len as u16);
        let packet_buf = &mut buf[..repr.buffer_len()];
        repr.emit(packet_buf, true);
        let packet = Ipv4Packet::new_checked(&*packet_buf).unwrap();
        assert!(packet.verify_checksum());
        assert_eq!(Ipv4Repr::parse(&packet, true), Ok(repr));
        let at = rng.below(20) as usize;
        packet_buf[at] ^= 1 + rng.below(255) as u8;
        if let Ok(packet) = Ipv4Packet::new_checked(&*packet_buf) {
            assert!(!packet.verify_checksum(), "flipped byte {at} not detected");
        }
        repr.emit(packet_buf, false);
        assert_eq!(Ipv4Packet::new_unchecked(&*packet_buf).checksum(), 0);
    }
}

#[test]
fn round_trip_icmp_and_checksum() {
    let mut rng = Rng::new(0x5eed_0006);
    for _ in 0..ROUND_TRIPS {
        let data_len = rng.below(100) as usize;
        let repr = icmp_repr(&mut rng, data_len);
        let mut buf = vec![0u8; repr.buffer_len()];
        rng.fill(&mut buf[8..]);
        repr.emit(&mut buf);
        let packet = IcmpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(IcmpRepr::parse(&packet, true), Ok(repr));
        if let IcmpRepr::EchoRequest {
            ident,
            seq_no,
            data_len,
        } = repr
        {
            let mut reply = buf.clone();
            IcmpPacket::new_unchecked(&mut reply[..])
                .echo_request_to_reply()
                .unwrap();
            let parsed = IcmpRepr::parse(&IcmpPacket::new_checked(&reply[..]).unwrap(), true);
            assert_eq!(
                parsed,
                Ok(IcmpRepr::EchoReply {
                    ident,
                    seq_no,
                    data_len
                })
            );
        }
        let at = rng.below(buf.len() as u64) as usize;
        buf[at] ^= 1 + rng.below(255) as u8;
        let packet = IcmpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(IcmpRepr::parse(&packet, true), Err(Error::BadChecksum));
    }
}

#[test]
fn round_trip_tcp_and_checksum() {
    let mut rng = Rng::new(0x5eed_0007);
    for _ in 0..ROUND_TRIPS {
        let repr = tcp_repr(&mut rng);
        let payload_len = rng.below(100) as usize;
        let mut buf = vec![0u8; repr.buffer_len(payload_len)];
        rng.fill(&mut buf);
        repr.emit(&mut buf);
        let (src, dst) = (ip(&mut rng), ip(&mut rng));
        let mut packet = TcpPacket::new_checked(&mut buf[..]).unwrap();
        assert_eq!(packet.header_len(), repr.header_len());
        assert_eq!(packet.payload().len(), payload_len);
        packet.fill_checksum(src, dst);
        assert!(packet.verify_checksum(src, dst));
        assert_eq!(TcpRepr::parse(&packet), Ok(repr), "{repr}");
        let at = rng.below(buf.len() as u64) as usize;
        buf[at] ^= 1 + rng.below(255) as u8;
        if let Ok(packet) = TcpPacket::new_checked(&buf[..]) {
            assert!(
                !packet.verify_checksum(src, dst),
                "flipped byte {at} not detected"
            );
        }
    }
}

#[test]
fn tcp_sack_blocks_that_do_not_fit_are_dropped_last_first() {
    let mut rng = Rng::new(0x5eed_0008);
    for _ in 0..ROUND_TRIPS {
        let mut repr = tcp_repr(&mut rng);
        while repr
            .sack
            .push((SeqNum(rng.next_u32()), SeqNum(rng.next_u32())))
        {}
        let mut buf = [0u8; 60];
        assert!(repr.header_len() <= 60);
        repr.emit(&mut buf);
        let parsed = TcpRepr::parse(&TcpPacket::new_checked(&buf[..]).unwrap()).unwrap();
        let n = repr.sack_blocks_emitted();
        assert_eq!(parsed.sack.as_slice(), &repr.sack.as_slice()[..n]);
    }
}
