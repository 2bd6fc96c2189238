//! Receive-side scaling: the Toeplitz hash in software, the redirection table, and one
//! `owner_of(flow)` for every core (ARCHITECTURE decision 8).
//!
//! **The hash** is Microsoft's RSS Toeplitz function ("RSS hashing functions"): for each bit of
//! the input, most significant first, XOR the 32 key bits starting at that bit position. The
//! input is what a NIC hashes in a received frame: source address, destination address, then
//! (for TCP) source port and destination port, in network order: 12 bytes for IPv4, 36 for
//! IPv6. Seen from the engine a received frame's source is the peer, so a connection's input is
//! `remote_ip, local_ip, remote_port, local_port`. [`Toeplitz`] precomputes, per input byte
//! position and byte value, the XOR that byte contributes (36 tables of 256 words, 36 KiB,
//! built once from the key); a hash is then one lookup and one XOR per input byte, with no
//! allocation. Checked against the published verification vectors (Microsoft's "Verifying the
//! RSS Hash Calculation", the same as the 82599 datasheet's verification suite that DPDK's
//! `test_thash.c` uses), IPv4 and IPv6, with and without ports.
//!
//! **The redirection table** ([`Redirection`]) maps `hash mod table size` to a receive queue;
//! queue `i` is core `i`'s. On a port that has RSS it is the table *read back* from the port,
//! with the key read back (never a default assumed); on a port that cannot steer, the engine's
//! own key and a table spreading the queues evenly. NICs index the table with the hash's low
//! bits, which is the modulo for the power-of-two sizes they have.
//!
//! **Ownership** ([`FlowSteer`], one per core): how frames of a flow reach a queue
//! ([`Spread`]), plus per-flow overrides (a connection moved to another core). The active open's
//! choice of source port (`tcp::api`) and the software steering of received frames
//! (`ip::steer`) both ask [`FlowSteer::owner_of`], so a port chosen for core `c` is one whose
//! frames steering hands to core `c`. Overrides reach every core through the steering mesh
//! (`ip::steer`), applied by each core in its own poll: no locks on the data path.
//!
//! This module sits beside the layers rather than in `ip`: TCP's port choice asks it too, and
//! the TCP core names nothing below the segment (decision 13). It names no device either: a
//! port reaches it as a key and a table (`dev::rss`).
//!
//! Invariants: the tables are built once; `owner_of` allocates nothing and never panics (the
//! table is never empty).

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use crate::rand::Rng;
use crate::tcp::FourTuple;

/// RSS key length the engine configures and needs (320 bits: enough for the 36-byte IPv6
/// input plus the 32-bit window).
pub const KEY_LEN: usize = 40;

/// Longest hash input: IPv6 source and destination addresses and both ports.
const INPUT_MAX: usize = 36;

/// The key of Microsoft's verification examples, also many NICs' default.
pub const MICROSOFT_KEY: [u8; KEY_LEN] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

/// Entries of the engine's own redirection table (ports that cannot steer).
pub const SOFTWARE_TABLE_LEN: usize = 128;

/// A key too short for the engine's hash inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("RSS key of {0} bytes: at least {KEY_LEN} are needed to hash IPv6 with ports")]
pub struct ShortKey(pub usize);

/// The Toeplitz hash with one key, as per-byte lookup tables.
pub struct Toeplitz {
    /// `tables[i][v]`: the XOR that byte value `v` at input position `i` contributes.
    tables: Box<[[u32; 256]; INPUT_MAX]>,
    key: [u8; KEY_LEN],
}

impl fmt::Debug for Toeplitz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Toeplitz(key ")?;
        for b in self.key {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

impl Toeplitz {
    /// The tables for `key` (its first [`KEY_LEN`] bytes; longer keys, such as 52-byte ones,
    /// contribute nothing further to inputs of at most 36 bytes).
    pub fn new(key: &[u8]) -> Result<Toeplitz, ShortKey> {
        let key: [u8; KEY_LEN] = key
            .get(..KEY_LEN)
            .and_then(|k| k.try_into().ok())
            .ok_or(ShortKey(key.len()))?;
        let mut tables: Box<[[u32; 256]; INPUT_MAX]> = vec![[0u32; 256]; INPUT_MAX]
            .into_boxed_slice()
            .try_into()
            .expect("INPUT_MAX tables");
        for (i, table) in tables.iter_mut().enumerate() {
            // Key bits 8i .. 8i+40 at the top of a u64: the window for the bit b of byte i is
            // the 32 bits from bit b on.
            let w = key[i..i + 5]
                .iter()
                .fold(0u64, |acc, &k| (acc << 8) | u64::from(k))
                << 24;
            let window = |b: u32| ((w << b) >> 32) as u32;
            for v in 1..256usize {
                let low = v.trailing_zeros();
                // Bit `low` (from the least significant end) is input bit 7 - low.
                table[v] = table[v & (v - 1)] ^ window(7 - low);
            }
        }
        Ok(Toeplitz { tables, key })
    }

    /// The key the tables were built from.
    pub fn key(&self) -> &[u8; KEY_LEN] {
        &self.key
    }

    /// The hash of `input` (at most 36 bytes; longer input is cut there).
    pub fn hash(&self, input: &[u8]) -> u32 {
        input
            .iter()
            .zip(self.tables.iter())
            .fold(0, |h, (&b, t)| h ^ t[usize::from(b)])
    }

    /// The hash a NIC computes for a frame of `flow` received from the peer: addresses only
    /// (`ports` false, Microsoft's "IPv4"/"IPv6" types) or with the TCP ports ("TCP/IPv4",
    /// "TCP/IPv6").
    pub fn hash_flow(&self, flow: &FourTuple, ports: bool) -> u32 {
        let [rp0, rp1] = flow.remote_port.to_be_bytes();
        let [lp0, lp1] = flow.local_port.to_be_bytes();
        let n = if ports { 4 } else { 0 };
        match (flow.remote_ip, flow.local_ip) {
            (IpAddr::V4(r), IpAddr::V4(l)) => {
                let ([r0, r1, r2, r3], [l0, l1, l2, l3]) = (r.octets(), l.octets());
                let input = [r0, r1, r2, r3, l0, l1, l2, l3, rp0, rp1, lp0, lp1];
                self.hash(&input[..8 + n])
            }
            (r, l) => {
                let mut input = [0u8; INPUT_MAX];
                input[..16].copy_from_slice(&v6_octets(r));
                input[16..32].copy_from_slice(&v6_octets(l));
                input[32..].copy_from_slice(&[rp0, rp1, lp0, lp1]);
                self.hash(&input[..32 + n])
            }
        }
    }
}

/// An address as 16 bytes (IPv4 as mapped; a mixed tuple never reaches here from the IP layer).
fn v6_octets(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V6(a) => a.octets(),
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
    }
}

/// Why a redirection table cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error(transparent)]
    Key(#[from] ShortKey),
    #[error("empty redirection table")]
    Empty,
    #[error("redirection table entry {index} names queue {queue}, but there are {queues} queues")]
    Queue {
        index: usize,
        queue: u16,
        queues: u16,
    },
}

/// A key and a redirection table: which receive queue a flow's frames reach.
#[derive(Debug)]
pub struct Redirection {
    toeplitz: Toeplitz,
    table: Box<[u16]>,
}

impl Redirection {
    /// `table[hash mod len]` is the queue of a flow; every entry must be below `queues`.
    pub fn new(key: &[u8], table: Vec<u16>, queues: u16) -> Result<Redirection, TableError> {
        let toeplitz = Toeplitz::new(key)?;
        if table.is_empty() {
            return Err(TableError::Empty);
        }
        if let Some((index, &queue)) = table.iter().enumerate().find(|(_, q)| **q >= queues) {
            return Err(TableError::Queue {
                index,
                queue,
                queues,
            });
        }
        Ok(Redirection {
            toeplitz,
            table: table.into_boxed_slice(),
        })
    }

    /// A table of `len` entries spreading `queues` queues evenly (entry `i` is queue
    /// `i mod queues`), the layout the engine writes to a port and uses in software.
    pub fn even(key: &[u8], len: usize, queues: u16) -> Result<Redirection, TableError> {
        let q = queues.max(1);
        let table = (0..len).map(|i| (i % usize::from(q)) as u16).collect();
        Redirection::new(key, table, q)
    }

    /// The engine's software redirection: a key drawn from `rng` and an even table.
    pub fn software(rng: &mut Rng, queues: u16) -> Redirection {
        let mut key = [0u8; KEY_LEN];
        for chunk in key.chunks_mut(8) {
            chunk.copy_from_slice(&rng.next_u64().to_be_bytes()[..chunk.len()]);
        }
        Redirection::even(&key, SOFTWARE_TABLE_LEN, queues).expect("a full key and a table")
    }

    pub fn toeplitz(&self) -> &Toeplitz {
        &self.toeplitz
    }

    pub fn table(&self) -> &[u16] {
        &self.table
    }

    /// The queue `flow`'s received frames reach (TCP hash types: addresses and ports).
    pub fn queue_of(&self, flow: &FourTuple) -> u16 {
        let h = self.toeplitz.hash_flow(flow, true) as usize;
        let len = self.table.len();
        // The low bits, as NICs index; a division only for odd sizes.
        let i = if len.is_power_of_two() {
            h & (len - 1)
        } else {
            h % len
        };
        self.table[i]
    }
}

/// How the frames of a flow reach a receive queue, hence a core (queue `i` is core `i`'s).
#[derive(Clone, Debug)]
pub enum Spread {
    /// The sender chooses the queue (net_ring, memif: the peer's queue `i` feeds our queue
    /// `i`): a flow belongs to the core whose queue its frames arrive on.
    Sender,
    /// The port's RSS, with the key and table read back from it: frames arrive on their
    /// owner's queue.
    Nic(Arc<Redirection>),
    /// The port cannot steer (net_tap, af_packet: the kernel picks the queue): the engine's key
    /// and table decide, and frames reach their owner through the cross-core rings.
    Software(Arc<Redirection>),
}

impl Spread {
    /// The redirection that decides ownership, if any.
    pub fn redirection(&self) -> Option<&Redirection> {
        match self {
            Spread::Sender => None,
            Spread::Nic(r) | Spread::Software(r) => Some(r),
        }
    }
}

/// One core's view of flow ownership.
#[derive(Clone, Debug)]
pub struct FlowSteer {
    core: u16,
    spread: Spread,
    overrides: HashMap<FourTuple, u16>,
}

impl FlowSteer {
    pub fn new(core: u16, spread: Spread) -> FlowSteer {
        FlowSteer {
            core,
            spread,
            overrides: HashMap::new(),
        }
    }

    /// This core's index.
    pub fn core(&self) -> u16 {
        self.core
    }

    pub fn spread(&self) -> &Spread {
        &self.spread
    }

    /// The core that owns `flow`: its override if it has one, else the redirection's queue;
    /// `None` with [`Spread::Sender`] (the flow belongs where its frames arrive).
    pub fn owner_of(&self, flow: &FourTuple) -> Option<u16> {
        self.override_of(flow)
            .or_else(|| self.spread.redirection().map(|r| r.queue_of(flow)))
    }

    /// The core an override gives `flow`, if one does.
    pub fn override_of(&self, flow: &FourTuple) -> Option<u16> {
        if self.overrides.is_empty() {
            return None;
        }
        self.overrides.get(flow).copied()
    }

    /// True when `flow` belongs to this core (or to whichever core its frames reach).
    pub fn is_mine(&self, flow: &FourTuple) -> bool {
        self.owner_of(flow).is_none_or(|c| c == self.core)
    }

    /// Any overrides in force (steering parses frames for them even where the sender chose
    /// the queue).
    pub fn has_overrides(&self) -> bool {
        !self.overrides.is_empty()
    }

    /// Applies an override or, with `None`, clears it. Called for every core by the steering
    /// mesh (`ip::steer`), not by the application.
    pub(crate) fn apply(&mut self, flow: FourTuple, core: Option<u16>) {
        match core {
            Some(c) => {
                self.overrides.insert(flow, c);
            }
            None => {
                self.overrides.remove(&flow);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// A received frame from `src:sport` to `dst:dport`, seen as the engine's flow.
    fn rx(src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> FourTuple {
        FourTuple::new((dst, dport), (src, sport))
    }

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse::<Ipv4Addr>().unwrap())
    }

    fn v6(s: &str) -> IpAddr {
        IpAddr::V6(s.parse::<Ipv6Addr>().unwrap())
    }

    /// Microsoft's "Verifying the RSS Hash Calculation", IPv4 table: destination, source,
    /// IPv4-only hash, TCP/IPv4 hash (also DPDK's `test_thash.c`, from the 82599 datasheet's
    /// verification suite).
    const V4: [Vector; 5] = [
        (
            "161.142.100.80",
            1766,
            "66.9.149.187",
            2794,
            0x323e8fc2,
            0x51ccc178,
        ),
        (
            "65.69.140.83",
            4739,
            "199.92.111.2",
            14230,
            0xd718262a,
            0xc626b0ea,
        ),
        (
            "12.22.207.184",
            38024,
            "24.19.198.95",
            12898,
            0xd2d0a5de,
            0x5c2b394a,
        ),
        (
            "209.142.163.6",
            2217,
            "38.27.205.30",
            48228,
            0x82989176,
            0xafc7327f,
        ),
        (
            "202.188.127.2",
            1303,
            "153.39.163.191",
            44251,
            0x5d1809c5,
            0x10e828a2,
        ),
    ];

    /// The IPv6 table of the same page.
    const V6: [Vector; 3] = [
        (
            "3ffe:2501:200:3::1",
            1766,
            "3ffe:2501:200:1fff::7",
            2794,
            0x2cc18cd5,
            0x40207d3d,
        ),
        (
            "ff02::1",
            4739,
            "3ffe:501:8::260:97ff:fe40:efab",
            14230,
            0x0f0c461c,
            0xdde51bbf,
        ),
        (
            "fe80::200:f8ff:fe21:67cf",
            38024,
            "3ffe:1900:4545:3:200:f8ff:fe21:67cf",
            44251,
            0x4b61e985,
            0x02d1feef,
        ),
    ];

    /// The definition, bit by bit, to check the tables against.
    fn reference(key: &[u8], input: &[u8]) -> u32 {
        let bit = |k: usize| (key[k / 8] >> (7 - k % 8)) & 1;
        let mut h = 0u32;
        for (i, &b) in input.iter().enumerate() {
            for j in 0..8 {
                if b & (0x80 >> j) != 0 {
                    let start = i * 8 + j;
                    let w = (0..32).fold(0u32, |w, k| (w << 1) | u32::from(bit(start + k)));
                    h ^= w;
                }
            }
        }
        h
    }

    type Vector = (&'static str, u16, &'static str, u16, u32, u32);

    /// Each vector's addresses-only and addresses-and-ports hash, with the Microsoft key.
    fn check_vectors(vectors: &[Vector], addr: fn(&str) -> IpAddr) {
        let t = Toeplitz::new(&MICROSOFT_KEY).unwrap();
        for &(dst, dport, src, sport, l3, l3l4) in vectors {
            let flow = rx(addr(src), sport, addr(dst), dport);
            assert_eq!(t.hash_flow(&flow, false), l3, "{src} -> {dst}");
            assert_eq!(
                t.hash_flow(&flow, true),
                l3l4,
                "{src}:{sport} -> {dst}:{dport}"
            );
        }
    }

    #[test]
    fn ipv4_verification_vectors_with_and_without_ports() {
        check_vectors(&V4, v4);
    }

    #[test]
    fn ipv6_verification_vectors_with_and_without_ports() {
        check_vectors(&V6, v6);
    }

    #[test]
    fn tables_match_the_bitwise_definition_for_random_keys_and_inputs() {
        let mut rng = Rng::new(9);
        for _ in 0..50 {
            let key: Vec<u8> = (0..KEY_LEN).map(|_| rng.next_u32() as u8).collect();
            let t = Toeplitz::new(&key).unwrap();
            let len = rng.next_u32() as usize % (INPUT_MAX + 1);
            let input: Vec<u8> = (0..len).map(|_| rng.next_u32() as u8).collect();
            assert_eq!(t.hash(&input), reference(&key, &input));
        }
    }

    #[test]
    fn short_keys_and_bad_tables_are_refused() {
        assert_eq!(Toeplitz::new(&[0; 39]).unwrap_err(), ShortKey(39));
        assert!(Toeplitz::new(&[0; 52]).is_ok());
        assert_eq!(
            Redirection::new(&MICROSOFT_KEY, vec![], 2).unwrap_err(),
            TableError::Empty
        );
        assert!(matches!(
            Redirection::new(&MICROSOFT_KEY, vec![0, 1, 2], 2),
            Err(TableError::Queue { index: 2, .. })
        ));
    }

    #[test]
    fn even_tables_spread_flows_over_every_queue() {
        let r = Redirection::even(&MICROSOFT_KEY, 128, 3).unwrap();
        let mut rng = Rng::new(1);
        let mut counts = [0u32; 3];
        for _ in 0..3000 {
            let flow = rx(
                IpAddr::V4(Ipv4Addr::from(rng.next_u32())),
                rng.next_u32() as u16,
                v4("10.0.0.2"),
                80,
            );
            counts[usize::from(r.queue_of(&flow))] += 1;
        }
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
    }

    #[test]
    fn overrides_win_and_clear() {
        let r = Arc::new(Redirection::even(&MICROSOFT_KEY, 128, 2).unwrap());
        let mut s = FlowSteer::new(0, Spread::Software(r.clone()));
        let flow = rx(v4("10.0.0.1"), 80, v4("10.0.0.2"), 40000);
        let hashed = r.queue_of(&flow);
        assert_eq!(s.owner_of(&flow), Some(hashed));
        s.apply(flow, Some(1 - hashed));
        assert_eq!(s.owner_of(&flow), Some(1 - hashed));
        s.apply(flow, None);
        assert_eq!(s.owner_of(&flow), Some(hashed));
        let sender = FlowSteer::new(1, Spread::Sender);
        assert_eq!(sender.owner_of(&flow), None);
        assert!(sender.is_mine(&flow));
    }
}
