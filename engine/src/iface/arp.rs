//! The neighbour cache: IPv4 → MAC (RFC 826), with expiry, and a bounded queue of frames
//! waiting for a resolution.
//!
//! Invariants:
//! - The cache is a fixed-size open-addressed table (no allocation after creation). A lookup
//!   probes at most [`PROBE`] slots; when all are taken by live entries, the one confirmed
//!   longest ago is replaced.
//! - An entry is *reachable* for `ttl` after its last confirmation, then *stale*: still used,
//!   but each use past `ttl` asks for a refresh (a request at most once per `retry`); a stale
//!   entry that goes unconfirmed for `ttl + retry * max_tries` is forgotten.
//! - At most `pending_limit` frames wait for resolution in total; a request for a missing
//!   address is re-sent every `retry`, `max_tries` times, after which its frames are dropped and
//!   counted.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::Duration;

use crate::buf::Pkt;
use crate::time::Instant;
use crate::wire::MacAddr;

/// Slots probed per lookup.
const PROBE: usize = 8;

/// Neighbour-cache settings.
#[derive(Clone, Debug)]
pub struct ArpConfig {
    /// How long a confirmed entry is trusted (Linux: base_reachable_time 30 s).
    pub ttl: Duration,
    /// Interval between requests for the same address.
    pub retry: Duration,
    /// Requests sent before giving up on an address.
    pub max_tries: u32,
    /// Frames that may wait for resolution, over all addresses.
    pub pending_limit: usize,
    /// Cache slots (rounded up to a power of two).
    pub capacity: usize,
    /// Announce our address with a gratuitous ARP when the stack starts (RFC 5227 §3).
    pub gratuitous: bool,
}

impl Default for ArpConfig {
    fn default() -> Self {
        ArpConfig {
            ttl: Duration::from_secs(30),
            retry: Duration::from_secs(1),
            max_tries: 3,
            pending_limit: 256,
            capacity: 256,
            gratuitous: true,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    ip: Ipv4Addr,
    mac: MacAddr,
    confirmed: Instant,
    last_request: Instant,
}

/// A request still unanswered.
#[derive(Clone, Copy, Debug)]
struct Unresolved {
    ip: Ipv4Addr,
    last_request: Instant,
    tries: u32,
}

/// What [`ArpCache::lookup`] found.
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
pub struct ArpCache {
    cfg: ArpConfig,
    slots: Vec<Option<Entry>>,
    mask: usize,
    pending: VecDeque<(Ipv4Addr, Pkt)>,
    unresolved: Vec<Unresolved>,
}

fn hash(ip: Ipv4Addr) -> usize {
    (u32::from(ip).wrapping_mul(0x9e37_79b1) >> 7) as usize
}

impl ArpCache {
    pub fn new(cfg: ArpConfig) -> ArpCache {
        let cap = cfg.capacity.max(PROBE).next_power_of_two();
        ArpCache {
            slots: vec![None; cap],
            mask: cap - 1,
            pending: VecDeque::with_capacity(cfg.pending_limit),
            unresolved: Vec::with_capacity(cfg.pending_limit.min(64)),
            cfg,
        }
    }

    pub fn config(&self) -> &ArpConfig {
        &self.cfg
    }

    fn find(&self, ip: Ipv4Addr) -> Option<usize> {
        let h = hash(ip);
        (0..PROBE)
            .map(|i| (h + i) & self.mask)
            .find(|&s| self.slots[s].is_some_and(|e| e.ip == ip))
    }

    /// Looks `ip` up at `now`. A `Refresh` answer means the caller should send a request now
    /// (the cache has noted it, so the next one comes after `retry`).
    pub fn lookup(&mut self, now: Instant, ip: Ipv4Addr) -> Lookup {
        let Some(s) = self.find(ip) else {
            return Lookup::Miss;
        };
        let cfg = &self.cfg;
        let e = self.slots[s].as_mut().expect("find returns occupied slots");
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
    pub fn update(&mut self, now: Instant, ip: Ipv4Addr, mac: MacAddr, create: bool) {
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
        let h = hash(ip);
        let victim = (0..PROBE)
            .map(|i| (h + i) & self.mask)
            .min_by_key(|&s| self.slots[s].map_or(Instant::ZERO, |e| e.confirmed))
            .expect("PROBE > 0");
        self.slots[victim] = Some(entry);
        self.unresolved.retain(|u| u.ip != ip);
    }

    /// Queues `frame` (whose Ethernet destination is still unset) until `ip` resolves.
    /// Returns `Err(frame)` when the queue is full. Returns `Ok(true)` when a request should be
    /// sent now (first frame for this address).
    pub fn enqueue(&mut self, now: Instant, ip: Ipv4Addr, frame: Pkt) -> Result<bool, Pkt> {
        if self.pending.len() >= self.cfg.pending_limit {
            return Err(frame);
        }
        self.pending.push_back((ip, frame));
        if self.unresolved.iter().any(|u| u.ip == ip) {
            return Ok(false);
        }
        if self.unresolved.len() >= self.cfg.pending_limit {
            return Ok(false);
        }
        self.unresolved.push(Unresolved {
            ip,
            last_request: now,
            tries: 1,
        });
        Ok(true)
    }

    /// Moves the frames waiting for `ip` into `out` (in arrival order).
    pub fn take_pending(&mut self, ip: Ipv4Addr, out: &mut impl FnMut(Pkt)) {
        let n = self.pending.len();
        for _ in 0..n {
            let (dst, frame) = self.pending.pop_front().expect("counted");
            if dst == ip {
                out(frame);
            } else {
                self.pending.push_back((dst, frame));
            }
        }
    }

    /// Timer work at `now`: calls `request(ip)` for each unresolved address whose retry is due,
    /// and drops the frames of addresses that ran out of tries. Returns the frames dropped.
    pub fn poll(&mut self, now: Instant, request: &mut impl FnMut(Ipv4Addr)) -> u64 {
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
            u.tries += 1;
            u.last_request = now;
            request(u.ip);
            i += 1;
        }
        dropped
    }

    /// The earliest instant at which [`ArpCache::poll`] has work.
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
