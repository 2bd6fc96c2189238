//! The Internet checksum: the 16-bit ones'-complement of the ones'-complement sum of the data
//! taken as big-endian 16-bit words (RFC 1071), the IPv4 pseudo-header that TCP and UDP add to
//! it (RFC 9293 §3.1), the IPv6 pseudo-header that TCP, UDP and ICMPv6 add (RFC 8200 §8.1), and
//! incremental update (RFC 1624).
//!
//! Vocabulary: a *sum* is a partial, not yet folded ones'-complement sum (a `u32`/`u64` carrying
//! carries above bit 15); [`fold`] adds the carries back in (RFC 1071 §4.1 "fold 32-bit sum to
//! 16 bits"); [`finish`] folds and inverts, giving the value stored in a checksum field.
//!
//! Invariants: [`sum`] returns a value `<= 0xffff`, so partial sums can be chained with `+`
//! without overflow; [`Checksum`] gives the same result however the data is split into slices,
//! including slices of odd length (a payload spread over several mbuf segments).

use std::net::{Ipv4Addr, Ipv6Addr};

/// Adds `data` (as big-endian 16-bit words, an odd final byte padded with zero on the right) to
/// the partial sum `initial`. The result is folded to at most `0xffff` but not inverted.
///
/// Eight bytes at a time into a 64-bit accumulator with end-around carry: ones'-complement
/// addition is associative and 2^16 - 1 divides 2^64 - 1, so the wide sum folds to the same
/// 16-bit value (RFC 1071 §2(B) "parallel summation", §4.2).
pub fn sum(data: &[u8], initial: u32) -> u32 {
    let mut acc = u64::from(initial);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let word = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        acc = add_carry(acc, word);
    }
    let mut rest = chunks.remainder();
    if rest.len() >= 4 {
        acc = add_carry(
            acc,
            u64::from(u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]])),
        );
        rest = &rest[4..];
    }
    if rest.len() >= 2 {
        acc = add_carry(acc, u64::from(u16::from_be_bytes([rest[0], rest[1]])));
        rest = &rest[2..];
    }
    if let Some(&last) = rest.first() {
        acc = add_carry(acc, u64::from(last) << 8);
    }
    u32::from(fold(acc))
}

/// 64-bit ones'-complement addition: the carry out of bit 63 wraps around into bit 0.
fn add_carry(acc: u64, word: u64) -> u64 {
    let (s, carry) = acc.overflowing_add(word);
    // Cannot overflow: after a carry, `s <= 2^64 - 2`.
    s + u64::from(carry)
}

/// Folds a partial sum to 16 bits by adding the carries back in. Not inverted.
pub fn fold(sum: impl Into<u64>) -> u16 {
    let mut s = sum.into();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// Folds and inverts a partial sum: the value to store in a checksum field.
pub fn finish(sum: impl Into<u64>) -> u16 {
    !fold(sum)
}

/// The partial sum of the IPv4 pseudo-header (RFC 9293 §3.1): source and destination address, a
/// zero byte and the protocol, and the segment length (TCP header plus data). Pass `len = 0` for
/// the pseudo-header that TSO offload expects (ARCHITECTURE decision 6).
pub fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, len: u32) -> u32 {
    let s = src.octets();
    let d = dst.octets();
    let words = [
        u16::from_be_bytes([s[0], s[1]]),
        u16::from_be_bytes([s[2], s[3]]),
        u16::from_be_bytes([d[0], d[1]]),
        u16::from_be_bytes([d[2], d[3]]),
        u16::from(protocol),
        (len >> 16) as u16,
        len as u16,
    ];
    words.iter().map(|&w| u32::from(w)).sum()
}

/// The partial sum of the IPv6 pseudo-header (RFC 8200 §8.1): source and destination address,
/// the 32-bit upper-layer packet length, three zero bytes and the Next Header value of the
/// upper-layer protocol (not of an extension header in between). Same form as [`pseudo_header`],
/// so it seeds [`Checksum::with_sum`]; `upper_len = 0` gives the sum TSO offload expects.
///
/// The source is the packet's; the destination is the final one, i.e. the last address of a
/// Routing header if the packet has one (RFC 8200 §8.1), which the engine never sends.
pub fn pseudo_header_v6(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, upper_len: u32) -> u32 {
    // 16 address words + 3 more, each <= 0xffff: at most 19 * 0xffff, far below u32::MAX.
    let addr_words = |a: &Ipv6Addr| a.segments().iter().map(|&w| u32::from(w)).sum::<u32>();
    addr_words(src)
        + addr_words(dst)
        + (upper_len >> 16)
        + (upper_len & 0xffff)
        + u32::from(next_header)
}

/// Incrementally updates a checksum field after one 16-bit word of the covered data changed
/// from `old_word` to `new_word`: RFC 1624 eqn. 3, `HC' = ~(~HC + ~m + m')`, which (unlike
/// RFC 1141's eqn. 2) never produces the wrong zero.
pub fn update(old_checksum: u16, old_word: u16, new_word: u16) -> u16 {
    let s = u32::from(!old_checksum) + u32::from(!old_word) + u32::from(new_word);
    finish(s)
}

/// An accumulator for data that arrives in several slices (headers, then payload segments).
///
/// [`Checksum::add`] keeps track of byte alignment, so `add(a); add(b)` equals `add(a ++ b)`
/// even when `a` has odd length.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checksum {
    acc: u64,
    /// The bytes added so far have odd length: the next byte is the low half of a word.
    odd: bool,
}

impl Checksum {
    pub const fn new() -> Checksum {
        Checksum { acc: 0, odd: false }
    }

    /// An accumulator starting from a partial sum (e.g. [`pseudo_header`]).
    pub fn with_sum(sum: u32) -> Checksum {
        Checksum {
            acc: u64::from(sum),
            odd: false,
        }
    }

    /// Adds the next bytes of the covered data.
    pub fn add(&mut self, data: &[u8]) -> &mut Self {
        let mut data = data;
        if self.odd
            && let Some((&first, rest)) = data.split_first()
        {
            // Completes the word whose high byte ended the previous slice.
            self.acc += u64::from(first);
            data = rest;
            self.odd = false;
        }
        self.acc += u64::from(sum(data, 0));
        if data.len() % 2 == 1 {
            self.odd = true;
        }
        self
    }

    /// Adds a 16-bit word (e.g. a pseudo-header field), whatever the alignment of the byte stream.
    pub fn add_u16(&mut self, word: u16) -> &mut Self {
        self.acc += u64::from(word);
        self
    }

    /// Adds a 32-bit value as two 16-bit words (e.g. an IPv4 address).
    pub fn add_u32(&mut self, value: u32) -> &mut Self {
        self.acc += u64::from(value >> 16) + u64::from(value & 0xffff);
        self
    }

    /// The folded, not inverted sum so far.
    pub fn sum(&self) -> u16 {
        fold(self.acc)
    }

    /// The checksum: folded and inverted.
    pub fn finish(&self) -> u16 {
        finish(self.acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::Rng;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (folded).
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data, 0)), 0xddf2);
        assert_eq!(finish(sum(&data, 0)), !0xddf2);
    }

    #[test]
    fn real_ipv4_header() {
        // A captured header (Wikipedia's example): checksum b861.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(finish(sum(&h, 0)), 0, "a valid header sums to 0xffff");
        h[10] = 0;
        h[11] = 0;
        assert_eq!(finish(sum(&h, 0)), 0xb861);
    }

    #[test]
    fn odd_lengths_and_remainders() {
        assert_eq!(sum(&[], 0), 0);
        assert_eq!(sum(&[0xab], 0), 0xab00);
        assert_eq!(sum(&[0xab, 0xcd, 0xef], 0), 0x9ace); // abcd + ef00 = 1_9acd, folded
        assert_eq!(fold(0x1_fffe_u32), 0xffff);
        assert_eq!(fold(u64::MAX), 0xffff);
    }

    /// The word-by-word definition, to compare the fast path against.
    fn reference(data: &[u8]) -> u16 {
        let mut s: u64 = 0;
        for pair in data.chunks(2) {
            let hi = u64::from(pair[0]) << 8;
            let lo = pair.get(1).map_or(0, |&b| u64::from(b));
            s += hi | lo;
        }
        fold(s)
    }

    #[test]
    fn fast_sum_matches_reference_and_any_split() {
        let mut rng = Rng::new(1071);
        let mut buf = vec![0u8; 300];
        for _ in 0..2000 {
            let len = rng.below(300) as usize;
            rng.fill(&mut buf[..len]);
            let data = &buf[..len];
            let whole = fold(sum(data, 0));
            assert_eq!(whole, reference(data));
            let mut c = Checksum::new();
            let mut rest = data;
            while !rest.is_empty() {
                let n = 1 + rng.below(rest.len() as u64) as usize;
                c.add(&rest[..n]);
                rest = &rest[n..];
            }
            assert_eq!(c.sum(), whole);
        }
    }

    #[test]
    fn incremental_update_matches_recomputation() {
        let mut rng = Rng::new(1624);
        for _ in 0..2000 {
            let words = 1 + rng.below(40) as usize;
            let mut data = vec![0u8; words * 2];
            rng.fill(&mut data);
            let before = finish(sum(&data, 0));
            let i = rng.below(words as u64) as usize * 2;
            let old = u16::from_be_bytes([data[i], data[i + 1]]);
            let new = rng.next_u32() as u16;
            data[i..i + 2].copy_from_slice(&new.to_be_bytes());
            let after = update(before, old, new);
            assert_eq!(after, finish(sum(&data, 0)), "data {data:02x?}");
        }
    }

    #[test]
    fn pseudo_header_and_accumulator_words() {
        let src = Ipv4Addr::new(10, 0, 0, 1);
        let dst = Ipv4Addr::new(10, 0, 0, 2);
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&src.octets());
        bytes.extend_from_slice(&dst.octets());
        bytes.extend_from_slice(&[0, 6, 0x01, 0x2c]);
        assert_eq!(fold(pseudo_header(src, dst, 6, 300)), fold(sum(&bytes, 0)));
        let mut c = Checksum::new();
        c.add_u32(u32::from(src)).add_u32(u32::from(dst));
        c.add_u16(6).add_u16(300);
        assert_eq!(c.sum(), fold(sum(&bytes, 0)));
        assert_eq!(
            Checksum::with_sum(pseudo_header(src, dst, 6, 300)).sum(),
            c.sum()
        );
    }

    /// A TCP SYN that Linux sent from fd00::1 to fd00::2 over a veth with checksum offload on:
    /// the kernel left the folded pseudo-header sum (not inverted) in the checksum field, 0xfa32,
    /// for the NIC to finish; tcpdump computes the finished checksum as 0x85d8.
    const LINUX_SYN_V6: [u8; 40] = [
        0x84, 0x00, 0x1e, 0x61, 0x5f, 0x87, 0x0c, 0xb7, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfd,
        0x20, 0xfa, 0x32, 0x00, 0x00, 0x02, 0x04, 0x05, 0xa0, 0x04, 0x02, 0x08, 0x0a, 0xff, 0x70,
        0xbd, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a,
    ];

    #[test]
    fn ipv6_pseudo_header_known_answers() {
        let src: Ipv6Addr = "fd00::1".parse().unwrap();
        let dst: Ipv6Addr = "fd00::2".parse().unwrap();
        // By hand: fd00 + 1 + fd00 + 2 + 40 + 6 = 0x1fa31, folded 0xfa32: the kernel's value.
        assert_eq!(pseudo_header_v6(&src, &dst, 6, 40), 0x1fa31);
        assert_eq!(fold(pseudo_header_v6(&src, &dst, 6, 40)), 0xfa32);
        let mut seg = LINUX_SYN_V6;
        seg[16..18].fill(0);
        let mut c = Checksum::with_sum(pseudo_header_v6(&src, &dst, 6, 40));
        assert_eq!(c.add(&seg).finish(), 0x85d8);
        // The order of the addresses does not matter; the length's high half does.
        assert_eq!(
            pseudo_header_v6(&dst, &src, 6, 40),
            pseudo_header_v6(&src, &dst, 6, 40)
        );
        let ones: Ipv6Addr = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap();
        assert_eq!(
            pseudo_header_v6(&ones, &ones, 0xff, 0x0001_0000),
            16 * 0xffff + 1 + 0xff
        );
    }
}
