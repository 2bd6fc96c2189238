//! IPv6 address helpers for the IP layer and Neighbor Discovery: the solicited-node multicast
//! group of an address (RFC 4291 §2.7.1), the Ethernet multicast MAC of a group (RFC 2464 §7),
//! a link-local address formed from a MAC (RFC 4291 §2.5.1 and appendix A, RFC 4862 §5.3), and
//! the predicates std does not have.
//!
//! For the other predicates, use std's stable `Ipv6Addr` methods: `is_multicast` (ff00::/8),
//! `is_unspecified` (::), `is_loopback` (::1), `is_unicast_link_local` (fe80::/10, stable since
//! Rust 1.84) and `to_ipv4_mapped` (::ffff:0:0/96). [`is_link_local`] and [`is_v4_mapped`] are
//! thin names for the last two, so NDP validation reads like RFC 4861.

use std::net::Ipv6Addr;

use super::ethernet::MacAddr;

/// ff02::1, all nodes on the link (RFC 4291 §2.7.1).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// ff02::2, all routers on the link (RFC 4291 §2.7.1).
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);

/// The first 13 bytes of every solicited-node address, ff02::1:ff00:0/104.
const SOLICITED_NODE_PREFIX: [u8; 13] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff];

/// The solicited-node multicast address of `addr`: ff02::1:ff00:0/104 followed by the low 24
/// bits of `addr` (RFC 4291 §2.7.1). Neighbor Solicitations for `addr` go there
/// (RFC 4861 §7.2.2), and a node joins it for each of its unicast and anycast addresses.
pub fn solicited_node(addr: &Ipv6Addr) -> Ipv6Addr {
    let mut octets = [0u8; 16];
    octets[..13].copy_from_slice(&SOLICITED_NODE_PREFIX);
    octets[13..].copy_from_slice(&addr.octets()[13..]);
    Ipv6Addr::from(octets)
}

/// `addr` is in ff02::1:ff00:0/104, the solicited-node range (RFC 4291 §2.7.1).
pub fn is_solicited_node(addr: &Ipv6Addr) -> bool {
    addr.octets()[..13] == SOLICITED_NODE_PREFIX
}

/// The Ethernet destination of a packet sent to the multicast address `addr`: 33:33 followed by
/// the low 32 bits of the address (RFC 2464 §7). Meaningful only for a multicast `addr`.
pub fn multicast_mac(addr: &Ipv6Addr) -> MacAddr {
    let o = addr.octets();
    MacAddr([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

/// fe80::/10 (RFC 4291 §2.5.6), std's `is_unicast_link_local`.
pub fn is_link_local(addr: &Ipv6Addr) -> bool {
    addr.is_unicast_link_local()
}

/// ::ffff:0:0/96, an IPv4-mapped address (RFC 4291 §2.5.5.2).
pub fn is_v4_mapped(addr: &Ipv6Addr) -> bool {
    addr.to_ipv4_mapped().is_some()
}

/// The link-local address fe80::/64 with the modified EUI-64 interface identifier of `mac`:
/// ff:fe inserted in the middle and the universal/local bit inverted (RFC 4291 §2.5.1 and
/// appendix A; RFC 2464 §4; RFC 4862 §5.3). RFC 8064 prefers stable opaque identifiers
/// (RFC 7217) for global addresses; this is the classic link-local form Linux also uses.
pub fn link_local_from_mac(mac: MacAddr) -> Ipv6Addr {
    let m = mac.octets();
    Ipv6Addr::from([
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        m[0] ^ 0x02,
        m[1],
        m[2],
        0xff,
        0xfe,
        m[3],
        m[4],
        m[5],
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn solicited_node_groups() {
        // Linux's DAD for fe80::9c77:6ff:fec7:b8c5 went to ff02::1:ffc7:b8c5.
        let lla = a("fe80::9c77:6ff:fec7:b8c5");
        assert_eq!(solicited_node(&lla), a("ff02::1:ffc7:b8c5"));
        assert_eq!(solicited_node(&a("fd00::2")), a("ff02::1:ff00:2"));
        assert_eq!(
            solicited_node(&a("2001:db8::1234:5678")),
            a("ff02::1:ff34:5678")
        );
        assert!(is_solicited_node(&a("ff02::1:ffc7:b8c5")));
        for not in [
            "ff02::1",
            "ff02::1:fe00:1",
            "ff05::1:ff00:1",
            "fe80::1:ff00:1",
        ] {
            assert!(!is_solicited_node(&a(not)), "{not}");
        }
    }

    #[test]
    fn multicast_macs() {
        // The frames Linux sent: ff02::16 to 33:33:00:00:00:16, ff02::1:ffc7:b8c5 to
        // 33:33:ff:c7:b8:c5.
        assert_eq!(
            multicast_mac(&a("ff02::16")).to_string(),
            "33:33:00:00:00:16"
        );
        let mac = multicast_mac(&a("ff02::1:ffc7:b8c5"));
        assert_eq!(mac, MacAddr([0x33, 0x33, 0xff, 0xc7, 0xb8, 0xc5]));
        assert!(mac.is_multicast());
        assert_eq!(multicast_mac(&ALL_NODES).to_string(), "33:33:00:00:00:01");
    }

    #[test]
    fn link_local_from_a_mac() {
        // Linux gave 9e:77:06:c7:b8:c5 the address fe80::9c77:6ff:fec7:b8c5.
        let mac = MacAddr([0x9e, 0x77, 0x06, 0xc7, 0xb8, 0xc5]);
        assert_eq!(link_local_from_mac(mac), a("fe80::9c77:6ff:fec7:b8c5"));
        assert!(is_link_local(&link_local_from_mac(mac)));
    }

    #[test]
    fn predicates() {
        assert!(is_link_local(&a("fe80::1")) && is_link_local(&a("febf::1")));
        assert!(!is_link_local(&a("fec0::1")) && !is_link_local(&a("ff02::1")));
        assert!(is_v4_mapped(&a("::ffff:10.0.0.1")));
        assert!(!is_v4_mapped(&a("::10.0.0.1")) && !is_v4_mapped(&a("64:ff9b::10.0.0.1")));
        assert!(ALL_ROUTERS.is_multicast() && a("::").is_unspecified() && a("::1").is_loopback());
    }
}
