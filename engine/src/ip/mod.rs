//! The IP layer: everything between the port and TCP's segments, for IPv4 and IPv6 in one
//! stack. Ethernet framing; neighbour resolution (ARP, RFC 826; Neighbor Discovery, RFC 4861)
//! with a bounded queue of frames awaiting it; our addresses and routes; IPv4 (RFC 791,
//! RFC 1122) and IPv6 (RFC 8200) input checks; ICMP and ICMPv6 echo; IPv4 identification;
//! header templates; checksums and the port's offloads and quirks. TCP sees only segments
//! (`crate::tcp::segment`): [`TcpTx`] is its sink.
//!
//! Input checks follow RFC 1122 §3.2.1 and RFC 8200 §4: headers are validated and failures
//! counted with Linux's names (`IpInHdrErrors`, `Ip6InHdrErrors`, ...); datagrams not for one
//! of our addresses are dropped (`IpInAddrErrors`, `Ip6InAddrErrors`); fragments are counted
//! and dropped (the engine does not reassemble). Nothing here panics on any frame: the parsers
//! are checked views (`wire`).
//!
//! Files: [`neighbor`] (the cache, either family), `arp` and `icmpv6` (ARP, and ICMPv6 with
//! Neighbor Discovery: the protocols that fill it), `input` (Ethernet and IPv4 demux), `ipv6`
//! (IPv6 input), `icmp` (ICMPv4 echo), `predict` (receive prediction), `tx` (segments to
//! frames), `template` (per-connection headers), [`steer`] (multi-core steering), `counters`.

mod arp;
mod counters;
mod icmp;
mod icmpv6;
mod input;
mod ipv6;
pub mod neighbor;
mod predict;
/// The RSS hash and flow ownership live beside the layers (TCP asks them too); also reachable
/// here, where steering uses them.
pub use crate::rss;
pub mod steer;
mod tap_csum;
mod template;
mod tx;

pub use counters::IpCounters;
pub use neighbor::{ArpCache, ArpConfig, Lookup, NdCache, NeighborCache, NeighborConfig};
pub use tx::{TX_COPYBREAK, TcpTx};

use std::collections::VecDeque;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::buf::{Pkt, Pools};
use crate::dev::{DeviceCaps, TxBatch};
use crate::tcp::{LinkCaps, PathCaps, TsoCaps};
use crate::time::Instant;
use crate::wire::{EthernetFrame, MacAddr};

use template::Templates;

/// An address of ours with its on-link prefix: `10.0.0.2/24`, `fd00::2/64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpCidr {
    pub addr: IpAddr,
    pub prefix_len: u8,
}

impl IpCidr {
    pub fn new(addr: impl Into<IpAddr>, prefix_len: u8) -> IpCidr {
        IpCidr {
            addr: addr.into(),
            prefix_len,
        }
    }

    /// Whether `ip` is on this prefix (same family, same leading `prefix_len` bits).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let n = u32::from(self.prefix_len.min(32));
                let mask = u32::MAX.checked_shl(32 - n).unwrap_or(0);
                (a.to_bits() ^ b.to_bits()) & mask == 0
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let n = u32::from(self.prefix_len.min(128));
                let mask = u128::MAX.checked_shl(128 - n).unwrap_or(0);
                (a.to_bits() ^ b.to_bits()) & mask == 0
            }
            _ => false,
        }
    }
}

/// Why an address did not parse as `ADDR/PREFIX`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "bad address {0:?}: expected ADDR/PREFIX, e.g. 10.0.0.2/24 or fd00::2/64 (a unicast \
     address, prefix at most 32 for IPv4 and 128 for IPv6)"
)]
pub struct BadCidr(pub String);

impl FromStr for IpCidr {
    type Err = BadCidr;

    fn from_str(s: &str) -> Result<IpCidr, BadCidr> {
        let bad = || BadCidr(s.to_string());
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        let prefix_len: u8 = p.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let unicast = match addr {
            IpAddr::V4(a) => !(a.is_unspecified() || a.is_broadcast() || a.is_multicast()),
            IpAddr::V6(a) => !(a.is_unspecified() || a.is_multicast()),
        };
        if prefix_len > max || !unicast {
            return Err(bad());
        }
        Ok(IpCidr { addr, prefix_len })
    }
}

impl fmt::Display for IpCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// Addressing of the IP layer.
#[derive(Clone, Debug)]
pub struct IpConfig {
    /// Our addresses, either family, at least one; the first of each family is the source
    /// of packets to off-link peers.
    pub addrs: Vec<IpCidr>,
    /// Where off-link IPv4 traffic goes.
    pub gateway: Option<Ipv4Addr>,
    /// Where off-link IPv6 traffic goes.
    pub gateway6: Option<Ipv6Addr>,
    pub neighbor: NeighborConfig,
}

/// Where a frame for an IP destination goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// The next hop's MAC address is known.
    Resolved(MacAddr),
    /// The next hop (this address) is being resolved; frames can be queued with
    /// [`IpLayer::send_unresolved`].
    Pending(IpAddr),
    /// Off-link destination and no gateway, or no address of that family
    /// (`IpOutNoRoutes`, `Ip6OutNoRoutes`).
    NoRoute,
}

/// The last resolved destination (see [`IpLayer::route`]).
#[derive(Clone, Copy, Debug)]
struct RouteCache {
    dst: IpAddr,
    mac: MacAddr,
    until: Instant,
}

/// IPv4 identifications (RFC 6864: unique per source for fragmentable datagrams; ours carry
/// DF, so a counter suffices).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Ident(u16);

impl Ident {
    #[inline]
    pub fn next(&mut self) -> u16 {
        self.0 = self.0.wrapping_add(1);
        self.0
    }

    /// Skips `n` identifications (the extra wire segments of a TSO frame use them).
    #[inline]
    pub fn reserve(&mut self, n: u64) {
        self.0 = self.0.wrapping_add(n as u16);
    }
}

/// An ICMP or ICMPv6 echo request to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ping {
    pub dst: IpAddr,
    pub ident: u16,
    pub seq_no: u16,
    /// Bytes of pattern data after the ICMP header.
    pub data_len: u16,
}

/// An echo reply that arrived (either family).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EchoReply {
    pub from: IpAddr,
    pub ident: u16,
    pub seq_no: u16,
    pub at: Instant,
}

/// Echo replies remembered by [`IpLayer::echo_replies`].
pub const ECHO_LOG: usize = 256;

/// Header lengths the IP layer writes and reads at fixed offsets: Ethernet II, IPv4 without
/// options (RFC 791), IPv6's fixed header (RFC 8200 §3), TCP without options and TCP with the
/// timestamp option alone in its `NOP NOP TS` layout (RFC 7323 appendix A).
const ETH: usize = 14;
const IP4: usize = 20;
const IP6: usize = 40;
const TCP: usize = 20;
const TCP_TS: usize = 32;

/// Addresses whose resolution retry is due, collected while a neighbour cache is borrowed and
/// solicited after; past 16 in one poll, the rest stay due for the next.
struct Due<A> {
    addrs: [A; 16],
    n: usize,
}

impl<A: Copy> Due<A> {
    fn new(fill: A) -> Due<A> {
        Due {
            addrs: [fill; 16],
            n: 0,
        }
    }

    /// Takes `a`; false when full.
    fn push(&mut self, a: A) -> bool {
        let Some(slot) = self.addrs.get_mut(self.n) else {
            return false;
        };
        *slot = a;
        self.n += 1;
        true
    }

    fn addrs(&self) -> &[A] {
        &self.addrs[..self.n]
    }
}

/// One core's IP layer: addresses, neighbours, counters, templates.
pub struct IpLayer {
    pub mac: MacAddr,
    /// The first IPv4 address (`UNSPECIFIED` when there is none): the receive prediction's
    /// one comparison.
    ip4: Ipv4Addr,
    addrs: Vec<IpCidr>,
    gateway: Option<Ipv4Addr>,
    gateway6: Option<Ipv6Addr>,
    arp: ArpCache,
    nd: NdCache,
    pub counters: IpCounters,
    /// The port's capabilities (offloads, MTU, quirks; `trusted`: the link cannot corrupt
    /// frames, so checksums are neither verified nor written).
    caps: DeviceCaps,
    last_route: Option<RouteCache>,
    pub(crate) ident: Ident,
    templates: Templates,
    /// Echo replies received, oldest first, at most [`ECHO_LOG`] kept.
    pub echo_replies: VecDeque<EchoReply>,
}

impl IpLayer {
    /// Bytes of the per-connection header template (one slot per connection index, touched
    /// when the connection first sends; `stack::memory_per_connection` counts it). An IPv6
    /// connection's template needs `template::EXT` bytes more, in a side table grown only
    /// for IPv6 flows.
    pub fn template_bytes() -> usize {
        std::mem::size_of::<template::HeaderTemplate>()
    }

    /// The IP layer of a port with `caps`, for up to `flows` connections (header templates).
    pub fn new(caps: &DeviceCaps, cfg: IpConfig, flows: usize) -> IpLayer {
        let ip4 = cfg
            .addrs
            .iter()
            .find_map(|c| match c.addr {
                IpAddr::V4(a) => Some(a),
                IpAddr::V6(_) => None,
            })
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        IpLayer {
            mac: caps.mac,
            ip4,
            addrs: cfg.addrs,
            gateway: cfg.gateway,
            gateway6: cfg.gateway6,
            arp: ArpCache::new(cfg.neighbor.clone()),
            nd: NdCache::new(cfg.neighbor),
            counters: IpCounters::default(),
            caps: caps.clone(),
            last_route: None,
            ident: Ident::default(),
            templates: Templates::with_capacity(flows),
            echo_replies: VecDeque::with_capacity(ECHO_LOG),
        }
    }

    /// What this layer carries for TCP, per family (ARCHITECTURE decision 13: TCP learns the
    /// port's limits and quirks only as numbers).
    pub fn link_caps(&self) -> LinkCaps {
        let mtu = self.caps.mtu;
        let path = |ip_hdr: u16, tso: bool| {
            let mut p = PathCaps::plain(mtu, ip_hdr);
            if tso {
                // net_tap's TSO counts the Ethernet header against the MTU (note §3 limit 1):
                // its wire segments must carry 14 bytes less.
                let l2 = if self.caps.tso_counts_l2 {
                    ETH as u16
                } else {
                    0
                };
                let max_segs = match self.caps.max_tso_segs {
                    0 => 44,
                    n => n,
                };
                p.tso = Some(TsoCaps {
                    max_wire_segment: p.max_segment.saturating_sub(l2),
                    max_segs,
                    max_payload: u32::from(u16::MAX) - ETH as u32 - u32::from(ip_hdr) - 60,
                });
            }
            p
        };
        LinkCaps {
            // DPDK takes IPv4 TSO only with the IPv4 checksum offload (rte_validate_tx_offload).
            v4: path(IP4 as u16, self.caps.tx.tso && self.caps.tx.ipv4_cksum),
            // DPDK 22.11's software GSO (net_tap) segments IPv4 only.
            v6: path(IP6 as u16, self.caps.tx.tso && !self.caps.tso_counts_l2),
        }
    }

    /// Our addresses.
    pub fn addrs(&self) -> &[IpCidr] {
        &self.addrs
    }

    /// Whether `ip` is one of our addresses.
    #[inline]
    pub fn is_local(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) if a == self.ip4 => true,
            _ => self.addrs.iter().any(|c| c.addr == ip),
        }
    }

    /// Our first IPv4 address, if we have one.
    pub fn ipv4(&self) -> Option<Ipv4Addr> {
        (!self.ip4.is_unspecified()).then_some(self.ip4)
    }

    /// Our IPv6 addresses.
    pub fn ipv6_addrs(&self) -> impl Iterator<Item = Ipv6Addr> + '_ {
        self.addrs.iter().filter_map(|c| match c.addr {
            IpAddr::V6(a) => Some(a),
            IpAddr::V4(_) => None,
        })
    }

    /// The source address for packets to `dst` (RFC 6724 in its simplest form): an address
    /// of ours on `dst`'s prefix, else the first of its family; `None` when we have no address
    /// of that family.
    pub fn source_for(&self, dst: IpAddr) -> Option<IpAddr> {
        let same = |c: &&IpCidr| c.addr.is_ipv4() == dst.is_ipv4();
        self.addrs
            .iter()
            .filter(same)
            .find(|c| c.contains(dst))
            .or_else(|| self.addrs.iter().find(same))
            .map(|c| c.addr)
    }

    /// True when `ip` is on one of our prefixes (IPv6 link-local addresses always are).
    pub fn on_link(&self, ip: IpAddr) -> bool {
        if let IpAddr::V6(a) = ip
            && a.is_unicast_link_local()
        {
            return true;
        }
        self.addrs.iter().any(|c| c.contains(ip))
    }

    /// The next hop toward `dst`: itself when on-link, else the family's gateway.
    fn next_hop(&self, dst: IpAddr) -> Option<IpAddr> {
        if self.on_link(dst) {
            return Some(dst);
        }
        match dst {
            IpAddr::V4(_) => self.gateway.map(IpAddr::V4),
            IpAddr::V6(_) => self.gateway6.map(IpAddr::V6),
        }
    }

    /// The source address of a new connection to `dst`, when it can be routed at all (an
    /// address of its family, and on-link or a gateway), without resolving anything. `None`
    /// counts `IpOutNoRoutes` / `Ip6OutNoRoutes`, as Linux's `tcp_v4_connect` does on
    /// `ENETUNREACH`.
    pub fn connect_source(&mut self, dst: IpAddr) -> Option<IpAddr> {
        let src = self
            .source_for(dst)
            .filter(|_| self.next_hop(dst).is_some());
        if src.is_none() {
            self.count_no_route(dst);
        }
        src
    }

    fn count_no_route(&mut self, dst: IpAddr) {
        match dst {
            IpAddr::V4(_) => self.counters.ip_out_no_routes += 1,
            IpAddr::V6(_) => self.counters.ip6_out_no_routes += 1,
        }
    }

    /// The IPv4 neighbour cache (for inspection and for pre-seeding in tests).
    pub fn arp(&mut self) -> &mut ArpCache {
        self.last_route = None;
        &mut self.arp
    }

    /// The IPv6 neighbour cache (for inspection and for pre-seeding in tests).
    pub fn nd(&mut self) -> &mut NdCache {
        self.last_route = None;
        &mut self.nd
    }

    /// Finds the MAC for sending to `dst`, asking for it (ARP request, Neighbor
    /// Solicitation) when it is unknown or stale.
    #[inline]
    pub fn route(&mut self, now: Instant, dst: IpAddr, pools: &Pools, tx: &mut TxBatch) -> Route {
        match self.cached_route(now, dst) {
            Some(mac) => Route::Resolved(mac),
            None => self.route_uncached(now, dst, pools, tx),
        }
    }

    /// The next hop's MAC for `dst` if the one-entry route cache holds it (what
    /// [`IpLayer::route`] answers first); `None` when the full lookup is needed.
    #[inline]
    pub fn cached_route(&self, now: Instant, dst: IpAddr) -> Option<MacAddr> {
        self.last_route
            .filter(|c| c.dst == dst && now < c.until)
            .map(|c| c.mac)
    }

    /// [`IpLayer::route`] past the one-entry cache: the routing decision and the neighbour
    /// cache.
    fn route_uncached(
        &mut self,
        now: Instant,
        dst: IpAddr,
        pools: &Pools,
        tx: &mut TxBatch,
    ) -> Route {
        let Some(hop) = self.next_hop(dst) else {
            self.count_no_route(dst);
            return Route::NoRoute;
        };
        let lookup = match hop {
            IpAddr::V4(h) => self.arp.lookup(now, h),
            IpAddr::V6(h) => self.nd.lookup(now, h),
        };
        match lookup {
            Lookup::Hit(mac) => {
                // Remember it for a while: nearly every frame goes to the same next hop. The
                // neighbour cache is consulted again after `retry` (so staleness is noticed)
                // or at once after any neighbour update.
                let until = now + self.arp.config().retry;
                self.last_route = Some(RouteCache { dst, mac, until });
                Route::Resolved(mac)
            }
            Lookup::Refresh(mac) => {
                self.solicit(hop, Some(mac), pools, tx);
                Route::Resolved(mac)
            }
            Lookup::Miss => Route::Pending(hop),
        }
    }

    /// Asks for `hop`'s link-layer address: an ARP request, or a Neighbor Solicitation
    /// (unicast to `known` when refreshing a stale entry, RFC 4861 §7.3.3; else to the
    /// solicited-node group).
    fn solicit(&mut self, hop: IpAddr, known: Option<MacAddr>, pools: &Pools, tx: &mut TxBatch) {
        match hop {
            IpAddr::V4(h) => self.send_arp_request(h, pools, tx),
            IpAddr::V6(h) => self.send_neighbor_solicitation(h, known, pools, tx),
        }
    }

    /// Records a neighbour (forgets the route cache, which may hold its old address).
    pub(crate) fn neighbor_update(&mut self, now: Instant, ip: IpAddr, mac: MacAddr, create: bool) {
        self.last_route = None;
        match ip {
            IpAddr::V4(a) => self.arp.update(now, a, mac, create),
            IpAddr::V6(a) => self.nd.update(now, a, mac, create),
        }
    }

    /// Queues a complete frame (Ethernet destination not yet set) until `hop` resolves, and
    /// asks for it the first time. The frame's head must be exclusive (a header mbuf).
    pub fn send_unresolved(
        &mut self,
        now: Instant,
        hop: IpAddr,
        frame: Pkt,
        pools: &Pools,
        tx: &mut TxBatch,
    ) {
        let queued = match hop {
            IpAddr::V4(h) => self.arp.enqueue(now, h, frame),
            IpAddr::V6(h) => self.nd.enqueue(now, h, frame),
        };
        match queued {
            Ok(true) => self.solicit(hop, None, pools, tx),
            Ok(false) => {}
            Err(_dropped) => self.counters.unresolved_discards += 1,
        }
    }

    /// Sends the frames that waited for `ip` to resolve to `mac`, with their Ethernet
    /// destination set (they were built in fresh header mbufs, so they are writable).
    fn release_pending(&mut self, ip: IpAddr, mac: MacAddr, tx: &mut TxBatch) {
        let mut release = |mut p: Pkt| {
            if let Some(d) = p.data_mut().filter(|d| d.len() >= ETH) {
                EthernetFrame::new_unchecked(d).set_dst(mac);
                tx.push(p);
            }
        };
        match ip {
            IpAddr::V4(a) => self.arp.take_pending(a, &mut release),
            IpAddr::V6(a) => self.nd.take_pending(a, &mut release),
        }
    }

    /// Timer work: resolution retries, and frames dropped for addresses that never answered.
    #[inline]
    pub fn poll(&mut self, now: Instant, pools: &Pools, tx: &mut TxBatch) {
        // Nothing being resolved (the common case): nothing to do.
        if !self.arp.resolving() && !self.nd.resolving() {
            return;
        }
        if self.next_deadline().is_none_or(|d| d > now) {
            return;
        }
        self.poll_neighbors(now, pools, tx);
    }

    fn poll_neighbors(&mut self, now: Instant, pools: &Pools, tx: &mut TxBatch) {
        let mut due4 = Due::new(Ipv4Addr::UNSPECIFIED);
        let mut due6 = Due::new(Ipv6Addr::UNSPECIFIED);
        let dropped = self.arp.poll(now, &mut |ip| due4.push(ip));
        let dropped6 = self.nd.poll(now, &mut |ip| due6.push(ip));
        self.counters.unresolved_discards += dropped + dropped6;
        for ip in due4.addrs() {
            self.send_arp_request(*ip, pools, tx);
        }
        for ip in due6.addrs() {
            self.send_neighbor_solicitation(*ip, None, pools, tx);
        }
    }

    /// When [`IpLayer::poll`] next has work.
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.arp.next_deadline(), self.nd.next_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Announces our addresses: a gratuitous ARP for each IPv4 address (RFC 5227 §3) and an
    /// unsolicited Neighbor Advertisement for each IPv6 one (RFC 4861 §7.2.6).
    pub fn announce(&mut self, pools: &Pools, tx: &mut TxBatch) {
        for i in 0..self.addrs.len() {
            match self.addrs[i].addr {
                IpAddr::V4(a) => self.send_arp_request(a, pools, tx),
                IpAddr::V6(a) => self.send_unsolicited_na(a, pools, tx),
            }
        }
    }

    /// Hands a frame to the TX batch, counting an allocation failure for a frame that could
    /// not be built.
    fn emit_or_count(&mut self, frame: Option<Pkt>, tx: &mut TxBatch) -> bool {
        match frame {
            Some(p) => {
                tx.push(p);
                true
            }
            None => {
                self.counters.out_nombuf += 1;
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_and_contain() {
        let v4: IpCidr = "10.0.0.2/24".parse().unwrap();
        assert!(v4.contains("10.0.0.200".parse().unwrap()));
        assert!(!v4.contains("10.0.1.1".parse().unwrap()));
        assert!(!v4.contains("fd00::1".parse().unwrap()));
        let v6: IpCidr = "fd00::2/64".parse().unwrap();
        assert!(v6.contains("fd00::ffff:1".parse().unwrap()));
        assert!(!v6.contains("fd01::1".parse().unwrap()));
        assert_eq!(v6.to_string(), "fd00::2/64");
        let all: IpCidr = "0.0.0.1/0".parse().unwrap();
        assert!(all.contains("192.168.1.1".parse().unwrap()));
        for bad in [
            "10.0.0.2",
            "10.0.0.2/33",
            "fd00::2/129",
            "ff02::1/64",
            "::/0",
            "x/1",
        ] {
            assert!(bad.parse::<IpCidr>().is_err(), "{bad}");
        }
    }
}
