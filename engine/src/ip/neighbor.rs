//! The neighbour cache: IP address → MAC, one per family (IPv4 resolved by ARP, RFC 826;
//! IPv6 by Neighbor Discovery, RFC 4861 §7), with expiry, and a bounded queue of frames
//! waiting for a resolution. The cache knows nothing of the protocol that fills it: `arp` and
//! `ndp` send the requests it asks for and feed it the answers.
//!
//! Invariants:
//! - The cache is a fixed-size open-addressed table (no allocation after creation). A lookup
//!   probes at most [`PROBE`] slots; when all are taken by live entries, the one confirmed
//!   longest ago is replaced.
//! - An entry is *reachable* for `ttl` after its last confirmation, then *stale*: still used,
//!   but each use past `ttl` asks for a refresh (a request at most once per `retry`); a stale
//!   entry that goes unconfirmed for `ttl + retry * max_tries` is forgotten.
//! - Frames wait for resolution in one queue per destination (Linux's `arp_queue` per
//!   neighbour): at most `pending_per_dest` for one address and `pending_limit` in all, so a
//!   burst of SYNs to one next hop waits for the answer instead of being dropped, and one
//!   silent address cannot take every slot. A frame beyond either bound is refused, and the
//!   caller counts it (`UnresolvedDiscards`, Linux's `unresolved_discards`). A request for a
//!   missing address is re-sent every `retry`, `max_tries` times, after which its frames are
//!   dropped and counted the same way. Frames are released in the order they were queued.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::buf::Pkt;
use crate::time::Instant;
use crate::wire::MacAddr;

/// Slots probed per lookup.
const PROBE: usize = 8;

/// An address a neighbour cache is keyed by.
pub trait NeighborAddr: Copy + Eq + Debug {
    /// A well-mixed hash of the address (the cache's slot index is taken from it).
    fn slot_hash(&self) -> usize;
}

impl NeighborAddr for Ipv4Addr {
    fn slot_hash(&self) -> usize {
        (u32::from(*self).wrapping_mul(0x9e37_79b1) >> 7) as usize
    }
}

impl NeighborAddr for Ipv6Addr {
    fn slot_hash(&self) -> usize {
        // The interface identifier (low 64 bits) varies most between neighbours.
        let b = self.to_bits();
        let x = (b as u64) ^ ((b >> 64) as u64).rotate_left(29);
        (x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) as usize
    }
}

/// The IPv4 cache's settings keep their historical name.
pub type ArpConfig = NeighborConfig;

/// Neighbour-cache settings (both families use the same).
#[derive(Clone, Debug)]
pub struct NeighborConfig {
    /// How long a confirmed entry is trusted (Linux: base_reachable_time 30 s).
    pub ttl: Duration,
    /// Interval between requests for the same address.
    pub retry: Duration,
    /// Requests sent before giving up on an address.
    pub max_tries: u32,
    /// Frames that may wait for resolution, over all addresses.
    pub pending_limit: usize,
    /// Frames that may wait for the resolution of one address (Linux `unres_qlen`).
    pub pending_per_dest: usize,
    /// Cache slots (rounded up to a power of two).
    pub capacity: usize,
    /// Announce our addresses when the stack starts: a gratuitous ARP (RFC 5227 §3) and an
    /// unsolicited Neighbor Advertisement (RFC 4861 §7.2.6).
    pub gratuitous: bool,
}

impl Default for NeighborConfig {
    fn default() -> Self {
        NeighborConfig {
            ttl: Duration::from_secs(30),
            retry: Duration::from_secs(1),
            max_tries: 3,
            pending_limit: 2048,
            pending_per_dest: 512,
            capacity: 256,
            gratuitous: true,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry<A> {
    ip: A,
    mac: MacAddr,
    confirmed: Instant,
    last_request: Instant,
}

/// A request still unanswered.
#[derive(Clone, Copy, Debug)]
struct Unresolved<A> {
    ip: A,
    last_request: Instant,
    tries: u32,
    /// Frames waiting for this address.
    queued: usize,
}

/// What [`NeighborCache::lookup`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Known and fresh.
    Hit(MacAddr),
    /// Known but stale: use it, and send the refresh request the caller is asked for.
    Refresh(MacAddr),
    /// Unknown.
    Miss,
}

/// Neighbour cache plus the frames waiting on it.
pub struct NeighborCache<A> {
    cfg: NeighborConfig,
    slots: Vec<Option<Entry<A>>>,
    mask: usize,
    pending: VecDeque<(A, Pkt)>,
    unresolved: Vec<Unresolved<A>>,
}

/// The IPv4 cache (ARP).
pub type ArpCache = NeighborCache<Ipv4Addr>;
/// The IPv6 cache (Neighbor Discovery).
pub type NdCache = NeighborCache<Ipv6Addr>;

impl<A: NeighborAddr> NeighborCache<A> {
    pub fn new(cfg: NeighborConfig) -> NeighborCache<A> {
        let cap = cfg.capacity.max(PROBE).next_power_of_two();
        NeighborCache {
            slots: vec![None; cap],
            mask: cap - 1,
            pending: VecDeque::with_capacity(cfg.pending_limit),
            unresolved: Vec::with_capacity(cfg.pending_limit),
            cfg,
        }
    }

    pub fn config(&self) -> &NeighborConfig {
        &self.cfg
    }

    fn find(&self, ip: A) -> Option<usize> {
        let h = ip.slot_hash();
        (0..PROBE)
            .map(|i| (h + i) & self.mask)
            .find(|&s| self.slots[s].is_some_and(|e| e.ip == ip))
    }

    /// Looks `ip` up at `now`. A `Refresh` answer means the caller should send a request now
    /// (the cache has noted it, so the next one comes after `retry`).
    pub fn lookup(&mut self, now: Instant, ip: A) -> Lookup {
        let Some(s) = self.find(ip) else {
            return Lookup::Miss;
        };
        let cfg = &self.cfg;
        let Some(e) = self.slots[s].as_mut() else {
            return Lookup::Miss;
        };
        let age = now - e.confirmed;
        if age <= cfg.ttl {
            return Lookup::Hit(e.mac);
        }
        if age > cfg.ttl + cfg.retry * cfg.max_tries {
            self.slots[s] = None;
            return Lookup::Miss;
        }
        if now - e.last_request >= cfg.retry {
            e.last_request = now;
            return Lookup::Refresh(e.mac);
        }
        Lookup::Hit(e.mac)
    }

    /// Records that `ip` is at `mac` (a reply, or a request from it), as confirmed at `now`.
    /// With `create` false, only an existing entry is updated (RFC 826 "merge" for requests
    /// not addressed to us).
    pub fn update(&mut self, now: Instant, ip: A, mac: MacAddr, create: bool) {
        let entry = Entry {
            ip,
            mac,
            confirmed: now,
            last_request: now,
        };
        if let Some(s) = self.find(ip) {
            self.slots[s] = Some(entry);
            return;
        }
        if !create {
            return;
        }
        let h = ip.slot_hash();
        let mut victim = h & self.mask;
        for s in (1..PROBE).map(|i| (h + i) & self.mask) {
            let age = |s: usize| self.slots[s].map_or(Instant::ZERO, |e| e.confirmed);
            if age(s) < age(victim) {
                victim = s;
            }
        }
        self.slots[victim] = Some(entry);
    }

    /// Queues `frame` (whose Ethernet destination is still unset) until `ip` resolves.
    /// Returns `Err(frame)` when `ip`'s queue or the total is full (the caller drops and
    /// counts it). Returns `Ok(true)` when a request should be sent now (first frame for this
    /// address).
    pub fn enqueue(&mut self, now: Instant, ip: A, frame: Pkt) -> Result<bool, Pkt> {
        if self.pending.len() >= self.cfg.pending_limit {
            return Err(frame);
        }
        let per_dest = self.cfg.pending_per_dest.max(1);
        if let Some(u) = self.unresolved.iter_mut().find(|u| u.ip == ip) {
            if u.queued >= per_dest {
                return Err(frame);
            }
            u.queued += 1;
            self.pending.push_back((ip, frame));
            return Ok(false);
        }
        // Every queued frame has its address in `unresolved`, so this bound is never hit
        // before the total one; it keeps the table from growing past its allocation.
        if self.unresolved.len() >= self.cfg.pending_limit {
            return Err(frame);
        }
        self.unresolved.push(Unresolved {
            ip,
            last_request: now,
            tries: 1,
            queued: 1,
        });
        self.pending.push_back((ip, frame));
        Ok(true)
    }

    /// Moves the frames waiting for `ip` into `out` (in arrival order); the resolution of
    /// `ip` is over.
    pub fn take_pending(&mut self, ip: A, out: &mut impl FnMut(Pkt)) {
        let Some(at) = self.unresolved.iter().position(|u| u.ip == ip) else {
            return;
        };
        let waiting = self.unresolved.swap_remove(at).queued;
        if waiting == 0 {
            return;
        }
        let n = self.pending.len();
        for _ in 0..n {
            let Some((dst, frame)) = self.pending.pop_front() else {
                break;
            };
            if dst == ip {
                out(frame);
            } else {
                self.pending.push_back((dst, frame));
            }
        }
    }

    /// The address `ip` has in the cache, reachable or stale, without touching the entry.
    pub fn mac_of(&self, ip: A) -> Option<MacAddr> {
        self.find(ip).and_then(|s| self.slots[s]).map(|e| e.mac)
    }

    /// Whether any resolution is under way.
    #[inline]
    pub fn resolving(&self) -> bool {
        !self.unresolved.is_empty()
    }

    /// Whether a resolution of `ip` is under way (requests sent, no answer yet).
    pub fn awaiting(&self, ip: A) -> bool {
        self.unresolved.iter().any(|u| u.ip == ip)
    }

    /// Whether `ip` has an entry (reachable or stale), without touching it (for inspection).
    pub fn contains(&self, ip: A) -> bool {
        self.find(ip).is_some()
    }

    /// Timer work at `now`: calls `request(ip)` for each unresolved address whose retry is due,
    /// and drops the frames of addresses that ran out of tries. Returns the frames dropped.
    /// When `request` returns false (no room for more this time) the rest stay due, for the
    /// next call.
    pub fn poll(&mut self, now: Instant, request: &mut impl FnMut(A) -> bool) -> u64 {
        let (retry, max) = (self.cfg.retry, self.cfg.max_tries);
        let mut dropped = 0;
        let mut i = 0;
        while i < self.unresolved.len() {
            let u = &mut self.unresolved[i];
            if now - u.last_request < retry {
                i += 1;
                continue;
            }
            if u.tries >= max {
                let ip = u.ip;
                self.unresolved.swap_remove(i);
                let before = self.pending.len();
                self.pending.retain(|(dst, _)| *dst != ip);
                dropped += (before - self.pending.len()) as u64;
                continue;
            }
            if !request(u.ip) {
                break;
            }
            u.tries += 1;
            u.last_request = now;
            i += 1;
        }
        dropped
    }

    /// The earliest instant at which [`NeighborCache::poll`] has work.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.unresolved
            .iter()
            .map(|u| u.last_request + self.cfg.retry)
            .min()
    }

    /// Frames waiting for resolution.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const IP6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
    const MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);

    #[test]
    fn entries_expire_through_stale() {
        let mut c = ArpCache::new(ArpConfig::default());
        let t0 = Instant::from_secs(1);
        assert_eq!(c.lookup(t0, IP), Lookup::Miss);
        c.update(t0, IP, MAC, true);
        assert_eq!(c.lookup(t0 + Duration::from_secs(29), IP), Lookup::Hit(MAC));
        let stale = t0 + Duration::from_secs(31);
        assert_eq!(c.lookup(stale, IP), Lookup::Refresh(MAC));
        assert_eq!(
            c.lookup(stale, IP),
            Lookup::Hit(MAC),
            "one refresh per retry interval"
        );
        assert_eq!(c.lookup(t0 + Duration::from_secs(40), IP), Lookup::Miss);
    }

    #[test]
    fn ipv6_entries_resolve() {
        let mut c = NdCache::new(NeighborConfig::default());
        let t0 = Instant::from_secs(1);
        assert!(!c.contains(IP6));
        assert_eq!(c.lookup(t0, IP6), Lookup::Miss);
        c.update(t0, IP6, MAC, true);
        assert!(c.contains(IP6));
        assert_eq!(c.lookup(t0, IP6), Lookup::Hit(MAC));
    }

    /// A poll whose collector fills leaves the rest due: every address gets its retry, on
    /// this poll or the next.
    #[test]
    fn retries_past_a_full_collector_stay_due() {
        crate::eal::init_for_tests();
        let pool = crate::buf::Mempool::create("tnr", 63, 0, 256).expect("pool");
        let mut c = ArpCache::new(ArpConfig::default());
        let t0 = Instant::from_secs(1);
        for i in 0..20u8 {
            let frame = Pkt::from_slice(&pool, &[0; 60]).expect("mbuf");
            assert!(matches!(
                c.enqueue(t0, Ipv4Addr::new(10, 0, 2, i), frame),
                Ok(true)
            ));
        }
        let t1 = t0 + Duration::from_secs(1);
        let mut asked = Vec::new();
        let mut room = 16;
        let dropped = c.poll(t1, &mut |ip| {
            room > 0 && {
                room -= 1;
                asked.push(ip);
                true
            }
        });
        assert_eq!((dropped, asked.len()), (0, 16));
        assert_eq!(c.next_deadline(), Some(t1), "four still due");
        c.poll(t1, &mut |ip| {
            asked.push(ip);
            true
        });
        asked.sort();
        asked.dedup();
        assert_eq!(asked.len(), 20, "each address asked once");
        drop(c);
        assert_eq!(pool.in_use(), 0);
    }

    #[test]
    fn merge_does_not_create() {
        let mut c = ArpCache::new(ArpConfig::default());
        c.update(Instant::ZERO, IP, MAC, false);
        assert_eq!(c.lookup(Instant::ZERO, IP), Lookup::Miss);
    }

    #[test]
    fn full_probe_window_evicts_oldest() {
        let mut c = ArpCache::new(ArpConfig {
            capacity: 8,
            ..ArpConfig::default()
        });
        for i in 0..20u8 {
            c.update(
                Instant::from_millis(u64::from(i)),
                Ipv4Addr::new(10, 0, 1, i),
                MAC,
                true,
            );
        }
        let t = Instant::from_millis(20);
        assert_eq!(c.lookup(t, Ipv4Addr::new(10, 0, 1, 19)), Lookup::Hit(MAC));
        assert_eq!(c.lookup(t, Ipv4Addr::new(10, 0, 1, 0)), Lookup::Miss);
    }
}
