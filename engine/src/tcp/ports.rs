//! Ephemeral port selection: RFC 6056 §3.3.4, Algorithm 4 ("double-hash port selection").
//!
//! ```text
//! offset = F(local_IP, remote_IP, remote_port, secret_key1)
//! index  = G(local_IP, remote_IP, remote_port, secret_key2)
//! for count in 0..num_ephemeral:
//!     port = min_ephemeral + (offset + table[index]) % num_ephemeral
//!     table[index]++
//!     if port is suitable and the 4-tuple is free: return port
//! ```
//!
//! F gives each destination its own random starting point in the range, so ports reveal
//! nothing across destinations; the per-bucket counter `table[G(..)]` makes consecutive
//! connections to one destination walk forward through the range instead of colliding with
//! the port just used (still in TIME-WAIT). F and G are SipHash-2-4 with independent keys.
//!
//! The caller decides suitability with its `usable` closure: the 4-tuple is not in the flow
//! table and, on a multi-core stack, the port steers back to this core (ARCHITECTURE
//! decision 8). Invariants: a returned port is in the range and passed `usable`; the table is
//! sized at creation; the walk visits each port of the range at most once per call.

use std::net::IpAddr;
use std::ops::RangeInclusive;

use super::siphash::{HashInput, LastHash, SipKey, siphash24};
use crate::rand::Rng;

/// Linux's default `ip_local_port_range`.
pub const DEFAULT_RANGE: RangeInclusive<u16> = 32768..=60999;

/// Entries of the perturbation table (RFC 6056 says "10 or more"; more buckets make the
/// counters of unrelated destinations independent).
const TABLE_LEN: usize = 4096;

/// The per-core ephemeral port allocator.
#[derive(Clone, Debug)]
pub struct PortAllocator {
    range: RangeInclusive<u16>,
    min: u16,
    /// Ports in the range; 0 when the range is empty.
    count: u32,
    key_f: SipKey,
    key_g: SipKey,
    /// The RFC's `table[]`: per-bucket counters, initialised at random.
    table: Box<[u32]>,
    /// F and G of the last destination (successive connects mostly share one).
    last: LastHash<HashInput, (u32, usize)>,
}

impl PortAllocator {
    /// An allocator over `range` (e.g. [`DEFAULT_RANGE`]) with keys and table drawn from `rng`.
    pub fn new(rng: &mut Rng, range: RangeInclusive<u16>) -> PortAllocator {
        let (min, max) = (*range.start(), *range.end());
        let count = if min <= max {
            u32::from(max) - u32::from(min) + 1
        } else {
            0
        };
        let key_f = SipKey::random(rng);
        let key_g = SipKey::random(rng);
        let table = (0..TABLE_LEN).map(|_| rng.next_u32()).collect();
        PortAllocator {
            range,
            min,
            count,
            key_f,
            key_g,
            table,
            last: LastHash::default(),
        }
    }

    /// The configured range.
    pub fn range(&self) -> RangeInclusive<u16> {
        self.range.clone()
    }

    /// The first port, in the RFC 6056 Algorithm 4 order for this destination, for which
    /// `usable(port)` is true; `None` once every port in the range has been refused.
    pub fn alloc(
        &mut self,
        local: IpAddr,
        remote: (IpAddr, u16),
        mut usable: impl FnMut(u16) -> bool,
    ) -> Option<u16> {
        if self.count == 0 {
            return None;
        }
        let (key_f, key_g) = (self.key_f, self.key_g);
        let (offset, index) = self.last.get(destination_bytes(local, remote), |key| {
            let offset = siphash24(key_f, key.bytes()) as u32;
            let index = (siphash24(key_g, key.bytes()) % TABLE_LEN as u64) as usize;
            (offset, index)
        });
        for _ in 0..self.count {
            let counter = self.table[index];
            self.table[index] = counter.wrapping_add(1);
            // u64 so that offset + counter does not wrap before the modulo.
            let step = (u64::from(offset) + u64::from(counter)) % u64::from(self.count);
            let port = (u32::from(self.min) + step as u32) as u16;
            if usable(port) {
                return Some(port);
            }
        }
        None
    }
}

/// The hash input of F and G: local address, remote address, remote port (RFC 6056 §3.3.4),
/// of either family.
fn destination_bytes(local: IpAddr, remote: (IpAddr, u16)) -> HashInput {
    HashInput::new(&[local, remote.0], &[remote.1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    use std::net::{Ipv4Addr, Ipv6Addr};

    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    const PEER: (IpAddr, u16) = (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 80);
    const LOCAL6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2));
    const PEER6: (IpAddr, u16) = (IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)), 80);

    fn allocator(seed: u64) -> PortAllocator {
        PortAllocator::new(&mut Rng::new(seed), DEFAULT_RANGE)
    }

    #[test]
    fn ports_are_in_range_and_distinct_for_one_peer() {
        let mut a = allocator(1);
        let mut seen = HashSet::new();
        for _ in 0..1000 {
            let port = a.alloc(LOCAL, PEER, |_| true).unwrap();
            assert!(DEFAULT_RANGE.contains(&port));
            assert!(seen.insert(port), "port {port} reused");
        }
    }

    #[test]
    fn ipv6_peers_get_ports_in_range_independent_of_ipv4() {
        let mut a = allocator(1);
        let mut seen = HashSet::new();
        for _ in 0..100 {
            let port = a.alloc(LOCAL6, PEER6, |_| true).unwrap();
            assert!(DEFAULT_RANGE.contains(&port));
            assert!(seen.insert(port), "port {port} reused");
        }
        let mut b = allocator(1);
        let v4 = b.alloc(LOCAL, PEER, |_| true).unwrap();
        let mut c = allocator(1);
        assert_ne!(c.alloc(LOCAL6, PEER6, |_| true).unwrap(), v4);
    }

    #[test]
    fn consecutive_ports_to_one_peer_walk_forward() {
        let mut a = allocator(1);
        let p1 = a.alloc(LOCAL, PEER, |_| true).unwrap();
        let p2 = a.alloc(LOCAL, PEER, |_| true).unwrap();
        let next = if p1 == *DEFAULT_RANGE.end() {
            *DEFAULT_RANGE.start()
        } else {
            p1 + 1
        };
        assert_eq!(p2, next);
    }

    #[test]
    fn different_peers_start_at_unrelated_offsets() {
        let mut a = allocator(1);
        let starts: HashSet<u16> = (0..50u16)
            .map(|i| a.alloc(LOCAL, (PEER.0, 1000 + i), |_| true).unwrap())
            .collect();
        // 50 destinations over 28,232 ports: nearly all distinct.
        assert!(starts.len() >= 45, "{}", starts.len());
    }

    #[test]
    fn cached_hashes_match_algorithm_4_across_destinations() {
        let mut a = allocator(3);
        for i in 0..40u16 {
            // Alternate and repeat destinations, so the one-entry cache hits and misses.
            let dest = (PEER.0, 80 + i % 3 + (i / 9) % 2);
            let key = destination_bytes(LOCAL, dest);
            let offset = siphash24(a.key_f, key.bytes()) as u32;
            let index = (siphash24(a.key_g, key.bytes()) % TABLE_LEN as u64) as usize;
            let counter = a.table[index];
            let expected = (u64::from(offset) + u64::from(counter)) % u64::from(a.count);
            let port = a.alloc(LOCAL, dest, |_| true).unwrap();
            assert_eq!(u32::from(port), u32::from(a.min) + expected as u32);
            assert_eq!(a.table[index], counter.wrapping_add(1));
        }
    }

    #[test]
    fn usable_is_respected() {
        let mut a = allocator(7);
        let (ncores, core) = (4, 3);
        for _ in 0..500 {
            let port = a.alloc(LOCAL, PEER, |p| p % ncores == core).unwrap();
            assert_eq!(port % ncores, core);
        }
        let mut calls = 0;
        let port = a.alloc(LOCAL, PEER, |_| {
            calls += 1;
            calls == 5
        });
        assert!(port.is_some());
        assert_eq!(calls, 5);
    }

    #[test]
    fn same_seed_same_ports() {
        let mut a = allocator(42);
        let mut b = allocator(42);
        let mut c = allocator(43);
        let pa: Vec<_> = (0..20).map(|_| a.alloc(LOCAL, PEER, |_| true)).collect();
        let pb: Vec<_> = (0..20).map(|_| b.alloc(LOCAL, PEER, |_| true)).collect();
        let pc: Vec<_> = (0..20).map(|_| c.alloc(LOCAL, PEER, |_| true)).collect();
        assert_eq!(pa, pb);
        assert_ne!(pa, pc);
    }

    #[test]
    fn exhaustion_returns_none_after_one_pass() {
        let mut a = PortAllocator::new(&mut Rng::new(1), 5000..=5009);
        let mut used = HashSet::new();
        for _ in 0..10 {
            let port = a.alloc(LOCAL, PEER, |p| !used.contains(&p)).unwrap();
            assert!((5000..=5009).contains(&port));
            used.insert(port);
        }
        let mut calls = 0;
        let none = a.alloc(LOCAL, PEER, |p| {
            calls += 1;
            !used.contains(&p)
        });
        assert_eq!(none, None);
        assert_eq!(calls, 10);
    }

    #[test]
    fn degenerate_ranges() {
        let mut one = PortAllocator::new(&mut Rng::new(1), 1234..=1234);
        assert_eq!(one.alloc(LOCAL, PEER, |_| true), Some(1234));
        assert_eq!(one.range(), 1234..=1234);
        #[allow(clippy::reversed_empty_ranges)]
        let mut empty = PortAllocator::new(&mut Rng::new(1), 10..=9);
        assert_eq!(empty.alloc(LOCAL, PEER, |_| true), None);
        let mut full = PortAllocator::new(&mut Rng::new(1), 0..=u16::MAX);
        assert!(full.alloc(LOCAL, PEER, |p| p == 65535).is_some());
        assert_eq!(full.range(), 0..=u16::MAX);
    }
}
