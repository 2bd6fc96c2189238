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
//! Both families are hashed the same way: the addresses' bytes (4 or 16) and the ports
//! (`siphash::HashInput`), so IPv4 and IPv6 connections get independent, unpredictable ISNs.

use std::net::IpAddr;

use super::flow::FourTuple;
use super::siphash::{HashInput, LastHash, SipKey, siphash24};
use crate::rand::Rng;
use crate::time::Instant;
use crate::wire::SeqNum;

/// RFC 6528 §3: the clock M ticks every 4 µs.
const ISN_CLOCK_NS: u64 = 4_000;

/// The per-core ISN and timestamp-offset generator: two secret keys, drawn once.
#[derive(Clone, Debug)]
pub struct IsnGen {
    isn_key: SipKey,
    ts_key: SipKey,
    /// The last host pair's timestamp offset.
    ts_last: LastHash<(IpAddr, IpAddr), u32>,
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
    pub fn isn(&self, now: Instant, t: &FourTuple) -> SeqNum {
        // M wraps modulo 2^32 (every ~4.77 hours), as RFC 9293 §3.4.1's clock does.
        let m = (now.as_nanos() / ISN_CLOCK_NS) as u32;
        let input = HashInput::new(&[t.local_ip, t.remote_ip], &[t.local_port, t.remote_port]);
        let f = siphash24(self.isn_key, input.bytes()) as u32;
        SeqNum(m.wrapping_add(f))
    }

    /// The offset added to the timestamp clock of a connection (RFC 7323 §5.4). Only the two
    /// addresses are hashed, the ports are deliberately ignored: one offset per host pair, so
    /// TSval stays monotonic across incarnations (see the module doc).
    pub fn ts_offset(&mut self, local: IpAddr, remote: IpAddr) -> u32 {
        let key = self.ts_key;
        self.ts_last.get((local, remote), |(l, r)| {
            siphash24(key, HashInput::new(&[l, r], &[]).bytes()) as u32
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::time::Duration;

    const L4: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    const R4: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const L6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2));
    const R6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1));

    fn tuple(l: IpAddr, lp: u16, r: IpAddr, rp: u16) -> FourTuple {
        FourTuple::new((l, lp), (r, rp))
    }

    #[test]
    fn isn_advances_with_the_4us_clock() {
        let g = IsnGen::new(&mut Rng::new(1));
        let t = Instant::from_secs(10);
        for c in [tuple(L4, 40_000, R4, 80), tuple(L6, 40_000, R6, 80)] {
            let a = g.isn(t, &c);
            assert_eq!(g.isn(t + Duration::from_nanos(3_999), &c), a);
            assert_eq!(g.isn(t + Duration::from_micros(4), &c), a + 1);
            assert_eq!(g.isn(t + Duration::from_secs(1), &c), a + 250_000);
        }
    }

    #[test]
    fn isn_depends_on_every_tuple_field_and_the_key() {
        let g = IsnGen::new(&mut Rng::new(1));
        let t = Instant::from_secs(10);
        for (l, r) in [(L4, R4), (L6, R6)] {
            let base = g.isn(t, &tuple(l, 40_000, r, 80));
            let variants = [
                tuple(r, 40_000, r, 80),
                tuple(l, 40_001, r, 80),
                tuple(l, 40_000, l, 80),
                tuple(l, 40_000, r, 81),
                tuple(r, 80, l, 40_000),
            ];
            for v in variants {
                assert_ne!(g.isn(t, &v), base, "{v}");
            }
            let other = IsnGen::new(&mut Rng::new(2));
            assert_ne!(other.isn(t, &tuple(l, 40_000, r, 80)), base);
            // Same seed, same ISN: runs replay.
            let again = IsnGen::new(&mut Rng::new(1));
            assert_eq!(again.isn(t, &tuple(l, 40_000, r, 80)), base);
        }
        // The families do not collide on equal-looking inputs.
        let v4 = g.isn(t, &tuple(L4, 1, R4, 2));
        let mapped = |a: IpAddr| match a {
            IpAddr::V4(a) => IpAddr::V6(a.to_ipv6_mapped()),
            v6 => v6,
        };
        assert_ne!(g.isn(t, &tuple(mapped(L4), 1, mapped(R4), 2)), v4);
    }

    #[test]
    fn ts_offset_is_per_host_pair_and_keyed() {
        let mut g = IsnGen::new(&mut Rng::new(1));
        let off = g.ts_offset(L4, R4);
        assert_eq!(g.ts_offset(L4, R4), off);
        let seven = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7));
        assert_ne!(g.ts_offset(L4, seven), off);
        assert_ne!(g.ts_offset(R4, L4), off);
        assert_ne!(g.ts_offset(L6, R6), off);
        assert_ne!(IsnGen::new(&mut Rng::new(3)).ts_offset(L4, R4), off);
        // The two keys differ: the offset is not the ISN hash.
        assert_ne!(g.isn(Instant::ZERO, &tuple(L4, 0, R4, 0)).0, off);
        // The cache of the last host pair returns what a fresh generator computes.
        let fresh = IsnGen::new(&mut Rng::new(1)).ts_offset(L4, seven);
        assert_eq!(g.ts_offset(L4, seven), fresh);
        assert_eq!(g.ts_offset(L4, R4), off);
    }
}
