//! The connection tables: 4-tuple (IPv4 or IPv6) → slab index for established flows, local port
//! → slab index for listeners (a listener takes its port on every address of the stack, in both
//! families, as a Linux socket bound to `[::]` without `IPV6_V6ONLY`).
//!
//! Both are `std::collections::HashMap`s with capacity reserved at creation and a keyed hasher,
//! [`FlowHasher`]: a folded 64×64→128-bit multiply (the wyhash / foldhash mixer) seeded with
//! 128 random bits from the engine's [`Rng`]. Without the key an attacker cannot choose
//! 4-tuples that collide in one bucket (a hash-flooding SYN storm); with it a lookup costs two
//! multiplies. It is not a cryptographic MAC: it resists blind flooding, which is what a
//! demux table needs. The key is per table, so two cores' tables disagree too.
//!
//! Invariant: no lookup allocates; inserting within the reserved capacity does not allocate.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::rand::Rng;

/// A TCP connection's identity as seen from this host, in either address family (both
/// addresses are of one family: the IP layer delivers nothing else).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FourTuple {
    pub local_ip: IpAddr,
    pub local_port: u16,
    pub remote_ip: IpAddr,
    pub remote_port: u16,
}

impl FourTuple {
    pub const fn new(local: (IpAddr, u16), remote: (IpAddr, u16)) -> FourTuple {
        FourTuple {
            local_ip: local.0,
            local_port: local.1,
            remote_ip: remote.0,
            remote_port: remote.1,
        }
    }

    pub const fn local(&self) -> SocketAddr {
        SocketAddr::new(self.local_ip, self.local_port)
    }

    pub const fn remote(&self) -> SocketAddr {
        SocketAddr::new(self.remote_ip, self.remote_port)
    }

    /// True for an IPv6 connection.
    pub const fn is_ipv6(&self) -> bool {
        self.remote_ip.is_ipv6()
    }
}

/// `10.0.0.2:80 <- 10.0.0.1:5000`, `[fd00::2]:80 <- [fd00::1]:5000` (local, then remote).
impl fmt::Display for FourTuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} <- {}", self.local(), self.remote())
    }
}

/// Odd constants from the fractional digits of pi (as wyhash and foldhash use), so that a zero
/// key still mixes.
const PI0: u64 = 0x243f_6a88_85a3_08d3;
const PI1: u64 = 0x1319_8a2e_0370_7344;

/// The high and low halves of the 128-bit product, xored: every input bit reaches the output.
fn folded_multiply(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// The keyed `BuildHasher` of the flow tables: 128 random bits, drawn once per table.
#[derive(Clone, Copy, Debug)]
pub struct FlowHashBuilder {
    k0: u64,
    k1: u64,
}

impl FlowHashBuilder {
    pub fn new(rng: &mut Rng) -> FlowHashBuilder {
        FlowHashBuilder {
            k0: rng.next_u64(),
            k1: rng.next_u64(),
        }
    }
}

impl BuildHasher for FlowHashBuilder {
    type Hasher = FlowHasher;

    fn build_hasher(&self) -> FlowHasher {
        FlowHasher {
            acc: self.k0 ^ PI0,
            key: self.k1 ^ PI1,
        }
    }
}

/// Hashes a short key as a sequence of 64-bit words, each folded in with a keyed multiply.
#[derive(Clone, Debug)]
pub struct FlowHasher {
    acc: u64,
    key: u64,
}

impl Hasher for FlowHasher {
    fn write_u64(&mut self, word: u64) {
        self.acc = folded_multiply(self.acc ^ word, self.key ^ PI0);
    }

    fn write_u32(&mut self, word: u32) {
        self.write_u64(u64::from(word));
    }

    fn write_u16(&mut self, word: u16) {
        self.write_u64(u64::from(word));
    }

    fn write_u8(&mut self, word: u8) {
        self.write_u64(u64::from(word));
    }

    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }

    /// Any other key: 8-byte words, the tail zero-padded and tagged with its length.
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            self.write_u64(u64::from_le_bytes(w));
        }
        let tail = words.remainder();
        let mut w = [0u8; 8];
        w[..tail.len()].copy_from_slice(tail);
        w[7] ^= tail.len() as u8;
        self.write_u64(u64::from_le_bytes(w));
    }

    fn finish(&self) -> u64 {
        folded_multiply(self.acc, self.key ^ PI1)
    }
}

/// An IPv4 flow as the table keys it: local address, remote address, both ports (12 bytes,
/// so an entry with its index is 16, as before IPv6 came).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key4([u32; 3]);

impl Hash for Key4 {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        let [l, r, p] = self.0;
        state.write_u64((u64::from(l) << 32) | u64::from(r));
        state.write_u64(u64::from(p));
    }
}

/// An IPv6 flow as the table keys it: each address as two words, then both ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key6 {
    addrs: [u64; 4],
    ports: u32,
}

impl Hash for Key6 {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        for w in self.addrs {
            state.write_u64(w);
        }
        state.write_u64(u64::from(self.ports));
    }
}

/// A flow's key in its family's map.
enum Key {
    V4(Key4),
    V6(Key6),
}

impl Key {
    #[inline]
    fn of(t: &FourTuple) -> Key {
        Key::of_parts(t.local_ip, t.local_port, t.remote_ip, t.remote_port)
    }

    #[inline]
    fn of_parts(local: IpAddr, local_port: u16, remote: IpAddr, remote_port: u16) -> Key {
        let ports = (u32::from(local_port) << 16) | u32::from(remote_port);
        match (local, remote) {
            (IpAddr::V4(l), IpAddr::V4(r)) => Key::V4(Key4([l.to_bits(), r.to_bits(), ports])),
            (l, r) => {
                let (l, r) = (v6_bits(l), v6_bits(r));
                let addrs = [(l >> 64) as u64, l as u64, (r >> 64) as u64, r as u64];
                Key::V6(Key6 { addrs, ports })
            }
        }
    }
}

/// An address as 128 bits (IPv4 as IPv4-mapped IPv6, for a tuple that mixes the families).
fn v6_bits(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped().to_bits(),
        IpAddr::V6(a) => a.to_bits(),
    }
}

/// Established (and in-handshake) connections: 4-tuple → slab index, one map per family so
/// an IPv4 lookup costs what it did before IPv6 (two mixing steps, a 12-byte key). Both
/// addresses of a tuple are of one family (the IP layer delivers nothing else); a tuple that
/// mixed them would be kept among the IPv6 flows with its IPv4 address mapped.
#[derive(Clone, Debug)]
pub struct FlowTable {
    v4: HashMap<Key4, u32, FlowHashBuilder>,
    v6: HashMap<Key6, u32, FlowHashBuilder>,
}

impl FlowTable {
    /// A table with room for `capacity` flows of each family without reallocating, keyed
    /// from `rng`.
    pub fn with_capacity(capacity: usize, rng: &mut Rng) -> FlowTable {
        FlowTable {
            v4: HashMap::with_capacity_and_hasher(capacity, FlowHashBuilder::new(rng)),
            v6: HashMap::with_capacity_and_hasher(capacity, FlowHashBuilder::new(rng)),
        }
    }

    /// Bytes one IPv4 entry takes (key, value, hashbrown control byte, at the 7/8 load factor).
    pub fn entry_size_v4() -> usize {
        (std::mem::size_of::<(Key4, u32)>() + 1) * 8 / 7
    }

    /// Bytes one IPv6 entry takes, likewise.
    pub fn entry_size_v6() -> usize {
        (std::mem::size_of::<(Key6, u32)>() + 1) * 8 / 7
    }

    /// Maps `tuple` to `index`, returning the index it replaced.
    pub fn insert(&mut self, tuple: FourTuple, index: u32) -> Option<u32> {
        match Key::of(&tuple) {
            Key::V4(k) => self.v4.insert(k, index),
            Key::V6(k) => self.v6.insert(k, index),
        }
    }

    #[inline]
    pub fn get(&self, tuple: &FourTuple) -> Option<u32> {
        self.lookup(Key::of(tuple))
    }

    /// [`FlowTable::get`] from the parts of a tuple (an arriving segment's, without building
    /// the tuple). The IPv4 lookup is written out, as it is every segment's.
    #[inline]
    pub fn get_parts(&self, local: (IpAddr, u16), remote: (IpAddr, u16)) -> Option<u32> {
        if let (IpAddr::V4(l), IpAddr::V4(r)) = (local.0, remote.0) {
            let ports = (u32::from(local.1) << 16) | u32::from(remote.1);
            return self
                .v4
                .get(&Key4([l.to_bits(), r.to_bits(), ports]))
                .copied();
        }
        self.lookup_other(local, remote)
    }

    #[inline(never)]
    fn lookup_other(&self, local: (IpAddr, u16), remote: (IpAddr, u16)) -> Option<u32> {
        self.lookup(Key::of_parts(local.0, local.1, remote.0, remote.1))
    }

    #[inline]
    fn lookup(&self, key: Key) -> Option<u32> {
        match key {
            Key::V4(k) => self.v4.get(&k).copied(),
            Key::V6(k) => self.v6.get(&k).copied(),
        }
    }

    pub fn remove(&mut self, tuple: &FourTuple) -> Option<u32> {
        match Key::of(tuple) {
            Key::V4(k) => self.v4.remove(&k),
            Key::V6(k) => self.v6.remove(&k),
        }
    }

    pub fn contains(&self, tuple: &FourTuple) -> bool {
        self.get(tuple).is_some()
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Flows of each family the table holds without reallocating (the smaller of the two).
    pub fn capacity(&self) -> usize {
        self.v4.capacity().min(self.v6.capacity())
    }

    /// Every flow (diagnostics and shutdown only; arbitrary order).
    pub fn iter(&self) -> impl Iterator<Item = (FourTuple, u32)> + '_ {
        let ports = |p: u32| ((p >> 16) as u16, p as u16);
        let v4 = self.v4.iter().map(move |(k, i)| {
            let [l, r, p] = k.0;
            let (lp, rp) = ports(p);
            let t = FourTuple::new(
                (Ipv4Addr::from_bits(l).into(), lp),
                (Ipv4Addr::from_bits(r).into(), rp),
            );
            (t, *i)
        });
        let v6 = self.v6.iter().map(move |(k, i)| {
            let [a, b, c, d] = k.addrs;
            let l = (u128::from(a) << 64) | u128::from(b);
            let r = (u128::from(c) << 64) | u128::from(d);
            let (lp, rp) = ports(k.ports);
            let t = FourTuple::new(
                (Ipv6Addr::from_bits(l).into(), lp),
                (Ipv6Addr::from_bits(r).into(), rp),
            );
            (t, *i)
        });
        v4.chain(v6)
    }
}

/// Listening sockets: local port → slab index of the listener.
#[derive(Clone, Debug)]
pub struct ListenTable {
    map: HashMap<u16, u32, FlowHashBuilder>,
}

impl ListenTable {
    pub fn with_capacity(capacity: usize, rng: &mut Rng) -> ListenTable {
        ListenTable {
            map: HashMap::with_capacity_and_hasher(capacity, FlowHashBuilder::new(rng)),
        }
    }

    /// Maps `port` to `index`, returning the index it replaced.
    pub fn insert(&mut self, port: u16, index: u32) -> Option<u32> {
        self.map.insert(port, index)
    }

    pub fn get(&self, port: u16) -> Option<u32> {
        self.map.get(&port).copied()
    }

    pub fn remove(&mut self, port: u16) -> Option<u32> {
        self.map.remove(&port)
    }

    pub fn contains(&self, port: u16) -> bool {
        self.map.contains_key(&port)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every listener (diagnostics and shutdown only; arbitrary order).
    pub fn iter(&self) -> impl Iterator<Item = (u16, u32)> + '_ {
        self.map.iter().map(|(p, i)| (*p, *i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    use std::net::{Ipv4Addr, Ipv6Addr};

    fn tuple(local_port: u16, remote_port: u16) -> FourTuple {
        FourTuple::new(
            (Ipv4Addr::new(10, 0, 0, 2).into(), local_port),
            (Ipv4Addr::new(10, 0, 0, 1).into(), remote_port),
        )
    }

    fn tuple6(local_port: u16, remote_port: u16) -> FourTuple {
        FourTuple::new(
            (
                Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2).into(),
                local_port,
            ),
            (
                Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1).into(),
                remote_port,
            ),
        )
    }

    #[test]
    fn display_reads_local_then_remote() {
        assert_eq!(tuple(80, 5000).to_string(), "10.0.0.2:80 <- 10.0.0.1:5000");
        assert_eq!(
            tuple6(80, 5000).to_string(),
            "[fd00::2]:80 <- [fd00::1]:5000"
        );
    }

    #[test]
    fn flow_table_insert_get_remove() {
        let mut rng = Rng::new(1);
        let mut t = FlowTable::with_capacity(1024, &mut rng);
        assert!(t.capacity() >= 1024);
        assert_eq!(t.insert(tuple(80, 5000), 7), None);
        assert_eq!(t.insert(tuple(80, 5001), 8), None);
        assert_eq!(t.get(&tuple(80, 5000)), Some(7));
        // Swapped ports are another flow.
        assert_eq!(t.get(&tuple(5000, 80)), None);
        assert!(t.contains(&tuple(80, 5001)));
        assert_eq!(t.insert(tuple(80, 5000), 9), Some(7));
        assert_eq!(t.len(), 2);
        assert_eq!(t.remove(&tuple(80, 5000)), Some(9));
        assert_eq!(t.remove(&tuple(80, 5000)), None);
        assert_eq!(t.iter().collect::<Vec<_>>(), [(tuple(80, 5001), 8)]);
    }

    #[test]
    fn flow_table_iterates_both_families() {
        let mut t = FlowTable::with_capacity(16, &mut Rng::new(1));
        t.insert(tuple(80, 5000), 1);
        t.insert(tuple6(443, 6000), 2);
        let mut all: Vec<_> = t.iter().collect();
        all.sort_by_key(|x| x.1);
        assert_eq!(all, [(tuple(80, 5000), 1), (tuple6(443, 6000), 2)]);
        assert_eq!(
            std::mem::size_of::<(Key4, u32)>(),
            16,
            "16-byte entries, as before IPv6"
        );
    }

    #[test]
    fn flow_table_keeps_the_families_apart() {
        let mut t = FlowTable::with_capacity(16, &mut Rng::new(1));
        assert_eq!(t.insert(tuple(80, 5000), 1), None);
        assert_eq!(t.insert(tuple6(80, 5000), 2), None);
        assert_eq!(t.get(&tuple(80, 5000)), Some(1));
        assert_eq!(t.get(&tuple6(80, 5000)), Some(2));
        // An IPv4-mapped IPv6 address is another flow than the IPv4 one.
        let mapped = FourTuple::new(
            (Ipv4Addr::new(10, 0, 0, 2).to_ipv6_mapped().into(), 80),
            (Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped().into(), 5000),
        );
        assert_eq!(t.get(&mapped), None);
        assert_eq!(t.remove(&tuple6(80, 5000)), Some(2));
        assert_eq!(t.get(&tuple(80, 5000)), Some(1));
    }

    /// The `i`-th of many distinct clients of 10.0.0.2:80.
    fn client(i: u32) -> FourTuple {
        let remote_ip = Ipv4Addr::from_bits(0x0a00_0000 | (i >> 8));
        FourTuple::new(
            (Ipv4Addr::new(10, 0, 0, 2).into(), 80),
            (remote_ip.into(), 1024 + (i & 0xff) as u16),
        )
    }

    #[test]
    fn flow_table_holds_many_flows_without_growing() {
        let mut rng = Rng::new(2);
        let mut t = FlowTable::with_capacity(50_000, &mut rng);
        let capacity = t.capacity();
        for i in 0..50_000u32 {
            assert_eq!(t.insert(client(i), i), None);
        }
        assert_eq!(t.len(), 50_000);
        assert_eq!(t.capacity(), capacity);
        for i in (0..50_000u32).step_by(997) {
            assert_eq!(t.get(&client(i)), Some(i));
        }
    }

    #[test]
    fn hash_is_keyed_and_spreads_sequential_ports() {
        let a = FlowHashBuilder::new(&mut Rng::new(1));
        let b = FlowHashBuilder::new(&mut Rng::new(2));
        let k = tuple(80, 5000);
        assert_eq!(a.hash_one(k), a.hash_one(k));
        assert_ne!(a.hash_one(k), b.hash_one(k));
        // Sequential client ports, the common case: low bits (the bucket) and the top 7 bits
        // (hashbrown's tag) must both vary.
        let n = 4096u16;
        let low: HashSet<u64> = (0..n).map(|p| a.hash_one(tuple(80, p)) & 0xfff).collect();
        let top: HashSet<u64> = (0..n).map(|p| a.hash_one(tuple(80, p)) >> 57).collect();
        assert!(low.len() > 2400, "{} distinct low 12-bit values", low.len());
        assert_eq!(top.len(), 128);
    }

    #[test]
    fn hasher_byte_fallback_distinguishes_lengths() {
        let a = FlowHashBuilder::new(&mut Rng::new(1));
        assert_ne!(
            a.hash_one([0u8; 3].as_slice()),
            a.hash_one([0u8; 4].as_slice())
        );
        assert_ne!(a.hash_one(&b"abcdefgh"[..]), a.hash_one(&b"abcdefgi"[..]));
    }

    #[test]
    fn listen_table() {
        let mut rng = Rng::new(3);
        let mut t = ListenTable::with_capacity(16, &mut rng);
        assert!(t.is_empty());
        assert_eq!(t.insert(80, 1), None);
        assert_eq!(t.insert(443, 2), None);
        assert_eq!(t.get(80), Some(1));
        assert_eq!(t.get(8080), None);
        assert!(t.contains(443));
        assert_eq!(t.insert(80, 3), Some(1));
        assert_eq!(t.remove(80), Some(3));
        assert_eq!(t.len(), 1);
        assert_eq!(t.iter().collect::<Vec<_>>(), [(443, 2)]);
    }
}
