//! Initial sequence numbers (RFC 6528) and timestamp offsets (RFC 7323 §5.4), from SipHash-2-4.
//!
//! RFC 6528 §3: `ISN = M + F(localip, localport, remoteip, remoteport, secretkey)`, where `M` is
//! a clock ticking every 4 µs and `F` a keyed pseudo-random function. Successive incarnations
//! of one 4-tuple therefore get increasing ISNs (the clock, RFC 9293 §3.4.1), while an off-path
//! attacker who does not know the key cannot predict any connection's ISN. `M` comes from the
//! injected `now` (ARCHITECTURE decision 3); the key comes from the seeded [`Rng`].
//!
//! The timestamp clock of each connection starts at a keyed-hash offset (Linux `tsoffset`) so
//! that TSval does not reveal the host's uptime (RFC 7323 §5.4, §7.1). The offset is per pair
//! of *addresses*, not per 4-tuple, as Linux does since 4.13 ("secure_seq: downgrade to
//! per-host timestamp offsets"): successive connections between the same hosts then see one
//! monotonic TSval clock, which PAWS across incarnations and TIME-WAIT reuse rely on
//! (RFC 6191, RFC 7323 §5.8).
//!
//! [`siphash24`] is the reference SipHash-2-4 (Aumasson and Bernstein, 2012), checked against
//! the paper's 64 test vectors; [`super::ports`] uses it too.

use std::net::Ipv4Addr;

use crate::rand::Rng;
use crate::time::Instant;
use crate::wire::SeqNum;

/// A 128-bit SipHash key as two little-endian words (`k0` = key bytes 0..8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SipKey {
    pub k0: u64,
    pub k1: u64,
}

impl SipKey {
    /// A key drawn from the engine's seeded generator.
    pub fn random(rng: &mut Rng) -> SipKey {
        SipKey {
            k0: rng.next_u64(),
            k1: rng.next_u64(),
        }
    }
}

/// The SipHash state words.
struct Sip {
    v: [u64; 4],
}

impl Sip {
    fn new(key: SipKey) -> Sip {
        Sip {
            v: [
                key.k0 ^ 0x736f_6d65_7073_6575,
                key.k1 ^ 0x646f_7261_6e64_6f6d,
                key.k0 ^ 0x6c79_6765_6e65_7261,
                key.k1 ^ 0x7465_6462_7974_6573,
            ],
        }
    }

    fn round(&mut self) {
        let [v0, v1, v2, v3] = &mut self.v;
        *v0 = v0.wrapping_add(*v1);
        *v1 = v1.rotate_left(13) ^ *v0;
        *v0 = v0.rotate_left(32);
        *v2 = v2.wrapping_add(*v3);
        *v3 = v3.rotate_left(16) ^ *v2;
        *v0 = v0.wrapping_add(*v3);
        *v3 = v3.rotate_left(21) ^ *v0;
        *v2 = v2.wrapping_add(*v1);
        *v1 = v1.rotate_left(17) ^ *v2;
        *v2 = v2.rotate_left(32);
    }

    /// Absorbs one 64-bit message word with two compression rounds.
    fn compress(&mut self, m: u64) {
        self.v[3] ^= m;
        self.round();
        self.round();
        self.v[0] ^= m;
    }

    /// Four finalisation rounds.
    fn finish(mut self) -> u64 {
        self.v[2] ^= 0xff;
        for _ in 0..4 {
            self.round();
        }
        self.v[0] ^ self.v[1] ^ self.v[2] ^ self.v[3]
    }
}

/// SipHash-2-4 of `msg` under `key`. No allocation; `msg` may be any length. Inlined, so that
/// the engine's fixed-length inputs (8 to 12 bytes) compile to plain word loads.
#[inline]
pub fn siphash24(key: SipKey, msg: &[u8]) -> u64 {
    let mut sip = Sip::new(key);
    let mut words = msg.chunks_exact(8);
    for word in &mut words {
        let mut m = [0u8; 8];
        m.copy_from_slice(word);
        sip.compress(u64::from_le_bytes(m));
    }
    // The last word: the remaining bytes, zero-padded, with the length's low byte on top.
    let tail = words.remainder();
    let mut last = [0u8; 8];
    last[..tail.len()].copy_from_slice(tail);
    last[7] = msg.len() as u8;
    sip.compress(u64::from_le_bytes(last));
    sip.finish()
}

/// The 12 bytes that identify a connection: local address and port, remote address and port.
pub(crate) fn tuple_bytes(local: (Ipv4Addr, u16), remote: (Ipv4Addr, u16)) -> [u8; 12] {
    let mut b = [0u8; 12];
    b[0..4].copy_from_slice(&local.0.octets());
    b[4..6].copy_from_slice(&local.1.to_be_bytes());
    b[6..10].copy_from_slice(&remote.0.octets());
    b[10..12].copy_from_slice(&remote.1.to_be_bytes());
    b
}

/// A one-entry cache of a keyed hash: successive connections of a core mostly share their
/// hosts (and an active opener its destination), so the hash of the last input is kept. It
/// returns exactly what hashing anew would; the cached value is no less secret than the key
/// beside it, so RFC 6528 and RFC 6056 see the same function.
#[derive(Clone, Debug)]
pub(crate) struct LastHash<K, V> {
    last: Option<(K, V)>,
}

impl<K, V> Default for LastHash<K, V> {
    fn default() -> Self {
        LastHash { last: None }
    }
}

impl<K: PartialEq + Copy, V: Copy> LastHash<K, V> {
    /// `hash(input)`, computed only when `input` differs from the last one.
    #[inline]
    pub fn get(&mut self, input: K, hash: impl FnOnce(K) -> V) -> V {
        match self.last {
            Some((k, v)) if k == input => v,
            _ => {
                let v = hash(input);
                self.last = Some((input, v));
                v
            }
        }
    }
}

/// RFC 6528 §3: the clock M ticks every 4 µs.
const ISN_CLOCK_NS: u64 = 4_000;

/// The per-core ISN and timestamp-offset generator: two secret keys, drawn once.
#[derive(Clone, Debug)]
pub struct IsnGen {
    isn_key: SipKey,
    ts_key: SipKey,
    /// The last host pair's timestamp offset.
    ts_last: LastHash<(Ipv4Addr, Ipv4Addr), u32>,
}

impl IsnGen {
    /// Draws the two 128-bit secrets from `rng`.
    pub fn new(rng: &mut Rng) -> IsnGen {
        IsnGen {
            isn_key: SipKey::random(rng),
            ts_key: SipKey::random(rng),
            ts_last: LastHash::default(),
        }
    }

    /// The initial send sequence number for a connection opened at `now` (RFC 6528 §3).
    pub fn isn(&self, now: Instant, local: (Ipv4Addr, u16), remote: (Ipv4Addr, u16)) -> SeqNum {
        // M wraps modulo 2^32 (every ~4.77 hours), as RFC 9293 §3.4.1's clock does.
        let m = (now.as_nanos() / ISN_CLOCK_NS) as u32;
        let f = siphash24(self.isn_key, &tuple_bytes(local, remote)) as u32;
        SeqNum(m.wrapping_add(f))
    }

    /// The offset added to the timestamp clock of a connection (RFC 7323 §5.4). Only the two
    /// addresses are hashed, the ports are deliberately ignored: one offset per host pair, so
    /// TSval stays monotonic across incarnations (see the module doc).
    pub fn ts_offset(&mut self, local: (Ipv4Addr, u16), remote: (Ipv4Addr, u16)) -> u32 {
        let key = self.ts_key;
        self.ts_last.get((local.0, remote.0), |(l, r)| {
            let mut b = [0u8; 8];
            b[0..4].copy_from_slice(&l.octets());
            b[4..8].copy_from_slice(&r.octets());
            siphash24(key, &b) as u32
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The 64 reference vectors of the SipHash paper (Appendix A, `vectors.h`): key 00..0f,
    /// message i = bytes 00..(i-1), output as little-endian bytes.
    #[rustfmt::skip]
    const VECTORS: [[u8; 8]; 64] = [
        [0x31, 0x0e, 0x0e, 0xdd, 0x47, 0xdb, 0x6f, 0x72], [0xfd, 0x67, 0xdc, 0x93, 0xc5, 0x39, 0xf8, 0x74],
        [0x5a, 0x4f, 0xa9, 0xd9, 0x09, 0x80, 0x6c, 0x0d], [0x2d, 0x7e, 0xfb, 0xd7, 0x96, 0x66, 0x67, 0x85],
        [0xb7, 0x87, 0x71, 0x27, 0xe0, 0x94, 0x27, 0xcf], [0x8d, 0xa6, 0x99, 0xcd, 0x64, 0x55, 0x76, 0x18],
        [0xce, 0xe3, 0xfe, 0x58, 0x6e, 0x46, 0xc9, 0xcb], [0x37, 0xd1, 0x01, 0x8b, 0xf5, 0x00, 0x02, 0xab],
        [0x62, 0x24, 0x93, 0x9a, 0x79, 0xf5, 0xf5, 0x93], [0xb0, 0xe4, 0xa9, 0x0b, 0xdf, 0x82, 0x00, 0x9e],
        [0xf3, 0xb9, 0xdd, 0x94, 0xc5, 0xbb, 0x5d, 0x7a], [0xa7, 0xad, 0x6b, 0x22, 0x46, 0x2f, 0xb3, 0xf4],
        [0xfb, 0xe5, 0x0e, 0x86, 0xbc, 0x8f, 0x1e, 0x75], [0x90, 0x3d, 0x84, 0xc0, 0x27, 0x56, 0xea, 0x14],
        [0xee, 0xf2, 0x7a, 0x8e, 0x90, 0xca, 0x23, 0xf7], [0xe5, 0x45, 0xbe, 0x49, 0x61, 0xca, 0x29, 0xa1],
        [0xdb, 0x9b, 0xc2, 0x57, 0x7f, 0xcc, 0x2a, 0x3f], [0x94, 0x47, 0xbe, 0x2c, 0xf5, 0xe9, 0x9a, 0x69],
        [0x9c, 0xd3, 0x8d, 0x96, 0xf0, 0xb3, 0xc1, 0x4b], [0xbd, 0x61, 0x79, 0xa7, 0x1d, 0xc9, 0x6d, 0xbb],
        [0x98, 0xee, 0xa2, 0x1a, 0xf2, 0x5c, 0xd6, 0xbe], [0xc7, 0x67, 0x3b, 0x2e, 0xb0, 0xcb, 0xf2, 0xd0],
        [0x88, 0x3e, 0xa3, 0xe3, 0x95, 0x67, 0x53, 0x93], [0xc8, 0xce, 0x5c, 0xcd, 0x8c, 0x03, 0x0c, 0xa8],
        [0x94, 0xaf, 0x49, 0xf6, 0xc6, 0x50, 0xad, 0xb8], [0xea, 0xb8, 0x85, 0x8a, 0xde, 0x92, 0xe1, 0xbc],
        [0xf3, 0x15, 0xbb, 0x5b, 0xb8, 0x35, 0xd8, 0x17], [0xad, 0xcf, 0x6b, 0x07, 0x63, 0x61, 0x2e, 0x2f],
        [0xa5, 0xc9, 0x1d, 0xa7, 0xac, 0xaa, 0x4d, 0xde], [0x71, 0x65, 0x95, 0x87, 0x66, 0x50, 0xa2, 0xa6],
        [0x28, 0xef, 0x49, 0x5c, 0x53, 0xa3, 0x87, 0xad], [0x42, 0xc3, 0x41, 0xd8, 0xfa, 0x92, 0xd8, 0x32],
        [0xce, 0x7c, 0xf2, 0x72, 0x2f, 0x51, 0x27, 0x71], [0xe3, 0x78, 0x59, 0xf9, 0x46, 0x23, 0xf3, 0xa7],
        [0x38, 0x12, 0x05, 0xbb, 0x1a, 0xb0, 0xe0, 0x12], [0xae, 0x97, 0xa1, 0x0f, 0xd4, 0x34, 0xe0, 0x15],
        [0xb4, 0xa3, 0x15, 0x08, 0xbe, 0xff, 0x4d, 0x31], [0x81, 0x39, 0x62, 0x29, 0xf0, 0x90, 0x79, 0x02],
        [0x4d, 0x0c, 0xf4, 0x9e, 0xe5, 0xd4, 0xdc, 0xca], [0x5c, 0x73, 0x33, 0x6a, 0x76, 0xd8, 0xbf, 0x9a],
        [0xd0, 0xa7, 0x04, 0x53, 0x6b, 0xa9, 0x3e, 0x0e], [0x92, 0x59, 0x58, 0xfc, 0xd6, 0x42, 0x0c, 0xad],
        [0xa9, 0x15, 0xc2, 0x9b, 0xc8, 0x06, 0x73, 0x18], [0x95, 0x2b, 0x79, 0xf3, 0xbc, 0x0a, 0xa6, 0xd4],
        [0xf2, 0x1d, 0xf2, 0xe4, 0x1d, 0x45, 0x35, 0xf9], [0x87, 0x57, 0x75, 0x19, 0x04, 0x8f, 0x53, 0xa9],
        [0x10, 0xa5, 0x6c, 0xf5, 0xdf, 0xcd, 0x9a, 0xdb], [0xeb, 0x75, 0x09, 0x5c, 0xcd, 0x98, 0x6c, 0xd0],
        [0x51, 0xa9, 0xcb, 0x9e, 0xcb, 0xa3, 0x12, 0xe6], [0x96, 0xaf, 0xad, 0xfc, 0x2c, 0xe6, 0x66, 0xc7],
        [0x72, 0xfe, 0x52, 0x97, 0x5a, 0x43, 0x64, 0xee], [0x5a, 0x16, 0x45, 0xb2, 0x76, 0xd5, 0x92, 0xa1],
        [0xb2, 0x74, 0xcb, 0x8e, 0xbf, 0x87, 0x87, 0x0a], [0x6f, 0x9b, 0xb4, 0x20, 0x3d, 0xe7, 0xb3, 0x81],
        [0xea, 0xec, 0xb2, 0xa3, 0x0b, 0x22, 0xa8, 0x7f], [0x99, 0x24, 0xa4, 0x3c, 0xc1, 0x31, 0x57, 0x24],
        [0xbd, 0x83, 0x8d, 0x3a, 0xaf, 0xbf, 0x8d, 0xb7], [0x0b, 0x1a, 0x2a, 0x32, 0x65, 0xd5, 0x1a, 0xea],
        [0x13, 0x50, 0x79, 0xa3, 0x23, 0x1c, 0xe6, 0x60], [0x93, 0x2b, 0x28, 0x46, 0xe4, 0xd7, 0x06, 0x66],
        [0xe1, 0x91, 0x5f, 0x5c, 0xb1, 0xec, 0xa4, 0x6c], [0xf3, 0x25, 0x96, 0x5c, 0xa1, 0x6d, 0x62, 0x9f],
        [0x57, 0x5f, 0xf2, 0x8e, 0x60, 0x38, 0x1b, 0xe5], [0x72, 0x45, 0x06, 0xeb, 0x4c, 0x32, 0x8a, 0x95],
    ];

    const REFERENCE_KEY: SipKey = SipKey {
        k0: 0x0706_0504_0302_0100,
        k1: 0x0f0e_0d0c_0b0a_0908,
    };

    #[test]
    fn siphash24_matches_the_reference_vectors() {
        let msg: Vec<u8> = (0..64).collect();
        for (len, want) in VECTORS.iter().enumerate() {
            let got = siphash24(REFERENCE_KEY, &msg[..len]);
            assert_eq!(got.to_le_bytes(), *want, "message length {len}");
        }
    }

    #[test]
    fn siphash24_paper_example() {
        // The paper's worked example (Appendix A): 15-byte message 00..0e.
        let msg: Vec<u8> = (0..15).collect();
        assert_eq!(siphash24(REFERENCE_KEY, &msg), 0xa129_ca61_49be_45e5);
    }

    const LOCAL: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 0, 0, 2), 40_000);
    const REMOTE: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 0, 0, 1), 80);

    #[test]
    fn isn_advances_with_the_4us_clock() {
        let g = IsnGen::new(&mut Rng::new(1));
        let t = Instant::from_secs(10);
        let a = g.isn(t, LOCAL, REMOTE);
        assert_eq!(g.isn(t + Duration::from_nanos(3_999), LOCAL, REMOTE), a);
        assert_eq!(g.isn(t + Duration::from_micros(4), LOCAL, REMOTE), a + 1);
        assert_eq!(
            g.isn(t + Duration::from_secs(1), LOCAL, REMOTE),
            a + 250_000
        );
    }

    #[test]
    fn isn_depends_on_every_tuple_field_and_the_key() {
        let g = IsnGen::new(&mut Rng::new(1));
        let t = Instant::from_secs(10);
        let base = g.isn(t, LOCAL, REMOTE);
        let variants = [
            ((Ipv4Addr::new(10, 0, 0, 3), LOCAL.1), REMOTE),
            ((LOCAL.0, LOCAL.1 + 1), REMOTE),
            (LOCAL, (Ipv4Addr::new(10, 0, 0, 9), REMOTE.1)),
            (LOCAL, (REMOTE.0, 81)),
            (REMOTE, LOCAL),
        ];
        for (l, r) in variants {
            assert_ne!(g.isn(t, l, r), base, "{l:?} {r:?}");
        }
        let other = IsnGen::new(&mut Rng::new(2));
        assert_ne!(other.isn(t, LOCAL, REMOTE), base);
        // Same seed, same ISN: runs replay.
        assert_eq!(IsnGen::new(&mut Rng::new(1)).isn(t, LOCAL, REMOTE), base);
    }

    #[test]
    fn ts_offset_is_per_host_pair_and_keyed() {
        let mut g = IsnGen::new(&mut Rng::new(1));
        let off = g.ts_offset(LOCAL, REMOTE);
        assert_eq!(g.ts_offset(LOCAL, REMOTE), off);
        // Another connection between the same hosts shares the clock.
        assert_eq!(g.ts_offset((LOCAL.0, 40_001), (REMOTE.0, 443)), off);
        assert_ne!(g.ts_offset(LOCAL, (Ipv4Addr::new(10, 0, 0, 7), 80)), off);
        assert_ne!(g.ts_offset(REMOTE, LOCAL), off);
        assert_ne!(IsnGen::new(&mut Rng::new(3)).ts_offset(LOCAL, REMOTE), off);
        // The two keys differ: the offset is not the ISN hash.
        assert_ne!(g.isn(Instant::ZERO, LOCAL, REMOTE).0, off);
        // The cache of the last host pair returns what a fresh generator computes.
        let peer = (Ipv4Addr::new(10, 0, 0, 7), 80);
        let fresh = IsnGen::new(&mut Rng::new(1)).ts_offset(LOCAL, peer);
        assert_eq!(g.ts_offset(LOCAL, peer), fresh);
        assert_eq!(g.ts_offset(LOCAL, REMOTE), off);
    }

    #[test]
    fn last_hash_hashes_only_new_inputs() {
        let mut cache = LastHash::default();
        let mut calls = 0;
        let mut h = |x: u32| {
            cache.get(x, |x| {
                calls += 1;
                x * 2
            })
        };
        assert_eq!([h(1), h(1), h(2), h(1), h(1)], [2, 2, 4, 2, 2]);
        assert_eq!(calls, 3);
    }
}
