//! Hand-built Ethernet/IPv4/ICMP frames for kernel-side tests, independent of the engine's own
//! `wire` module (so a bug there cannot hide in both the frame and its check).

use std::net::Ipv4Addr;

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn mac(s: &str) -> [u8; 6] {
    let v: Vec<u8> = s
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).unwrap_or_else(|_| panic!("bad MAC {s:?}")))
        .collect();
    v.try_into()
        .unwrap_or_else(|_| panic!("bad MAC {s:?}: not 6 bytes"))
}

/// The Internet checksum (RFC 1071) of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    checksum_with(0, data)
}

/// The Internet checksum of `data` with `initial` already in the sum (e.g. a pseudo-header's
/// 16-bit words, added up).
pub fn checksum_with(initial: u32, data: &[u8]) -> u16 {
    let mut sum: u32 = initial
        + data
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
            .sum::<u32>();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Offset of the IPv4 header in an Ethernet frame.
pub const IP: usize = 14;

/// An Ethernet frame carrying an ICMP echo request with `data_len` bytes of data, every
/// checksum correct, DF set, TTL 64.
pub fn echo_request(
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ident: u16,
    seq: u16,
    data_len: usize,
) -> Vec<u8> {
    let mut f = Vec::with_capacity(IP + 28 + data_len);
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let total = (20 + 8 + data_len) as u16;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes()); // IP identification
    f.extend_from_slice(&[0x40, 0, 64, 1, 0, 0]); // DF, TTL 64, ICMP, checksum 0
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&dst.octets());
    let icmp = f.len();
    f.extend_from_slice(&[8, 0, 0, 0]);
    f.extend_from_slice(&ident.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend((0..data_len).map(|i| i as u8));
    let c = checksum(&f[icmp..]);
    f[icmp + 2..icmp + 4].copy_from_slice(&c.to_be_bytes());
    fill_ip_checksum(&mut f, 20);
    f
}

/// Recomputes the IPv4 header checksum over the first `header_len` bytes of the IP header.
pub fn fill_ip_checksum(frame: &mut [u8], header_len: usize) {
    frame[IP + 10..IP + 12].fill(0);
    let c = checksum(&frame[IP..IP + header_len]);
    frame[IP + 10..IP + 12].copy_from_slice(&c.to_be_bytes());
}

/// Sets the version/IHL byte, keeping the header checksum valid over the 20 bytes present.
pub fn set_version_ihl(frame: &mut [u8], version: u8, ihl: u8) {
    frame[IP] = (version << 4) | (ihl & 0x0f);
    fill_ip_checksum(frame, 20);
}

/// Sets the IPv4 total length, keeping the header checksum valid.
pub fn set_total_len(frame: &mut [u8], len: u16) {
    frame[IP + 2..IP + 4].copy_from_slice(&len.to_be_bytes());
    fill_ip_checksum(frame, 20);
}
