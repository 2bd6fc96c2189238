//! The interface layer: Ethernet, ARP, IPv4 and ICMP, and the demux that hands TCP segments to
//! the TCP layer.
//!
//! Input checks follow RFC 1122 §3.2.1: version, header length, total length and header
//! checksum are validated and failures counted (`IpInHdrErrors`, `IpExtInTruncatedPkts`,
//! `IpExtInCsumErrors`); datagrams not for our address are dropped (`IpInAddrErrors`);
//! fragments are counted and dropped (`IpReasmReqds`, `IpReasmFails`: the engine does not
//! reassemble); ICMP echo requests are answered in place (`IcmpInEchos`, `IcmpOutEchoReps`).
//! Nothing here panics on any frame: the parsers are checked views (`wire`).
//!
//! Output: [`Iface::route`] finds the next hop's MAC; frames whose neighbour is unknown wait in
//! the ARP cache's bounded queue ([`arp::ArpCache`]).

pub mod arp;
mod counters;
mod input;
mod predict;
pub mod steer;

pub use arp::{ArpCache, ArpConfig, Lookup};
pub use counters::IfaceCounters;

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use crate::buf::{Pkt, Pools};
use crate::dev::TxBatch;
use crate::time::Instant;
use crate::wire::{
    ArpOperation, ArpRepr, EtherType, EthernetFrame, EthernetRepr, IcmpRepr, IpProtocol, Ipv4Repr,
    MacAddr, TcpRepr,
};

/// Addressing of an interface.
#[derive(Clone, Debug)]
pub struct IfaceConfig {
    pub ip: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Option<Ipv4Addr>,
    pub arp: ArpConfig,
}

/// A TCP segment that passed the IPv4 and TCP checks, ready for the TCP layer.
#[derive(Debug)]
pub struct TcpIn {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub repr: TcpRepr,
    /// The frame trimmed to the TCP payload; `None` when the segment carries no data.
    pub payload: Option<Pkt>,
}

/// Where a frame for an IP destination goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// The next hop's MAC address is known.
    Resolved(MacAddr),
    /// The next hop (this IP) is being resolved; frames can be queued with
    /// [`Iface::send_unresolved`].
    Pending(Ipv4Addr),
    /// Off-link destination and no gateway (`IpOutNoRoutes`).
    NoRoute,
}

/// One core's interface state: addresses, neighbour cache, counters.
pub struct Iface {
    pub mac: MacAddr,
    pub ip: Ipv4Addr,
    netmask: u32,
    gateway: Option<Ipv4Addr>,
    arp: ArpCache,
    pub counters: IfaceCounters,
    /// The link cannot corrupt frames (`DeviceCaps::trusted`): checksums are not verified.
    pub trusted: bool,
    last_route: Option<RouteCache>,
    ip_ident: u16,
    /// Echo replies received, oldest first, at most [`ECHO_LOG`] kept.
    pub echo_replies: VecDeque<EchoReply>,
}

/// Echo replies remembered by [`Iface::echo_replies`].
pub const ECHO_LOG: usize = 256;

/// The last resolved destination (see [`Iface::route`]).
#[derive(Clone, Copy, Debug)]
struct RouteCache {
    dst: Ipv4Addr,
    mac: MacAddr,
    until: Instant,
}

/// An ICMP echo request to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ping {
    pub dst: Ipv4Addr,
    pub ident: u16,
    pub seq_no: u16,
    /// Bytes of pattern data after the ICMP header.
    pub data_len: u16,
}

/// An ICMP echo reply that arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EchoReply {
    pub from: Ipv4Addr,
    pub ident: u16,
    pub seq_no: u16,
    pub at: Instant,
}

impl Iface {
    pub fn new(mac: MacAddr, cfg: IfaceConfig) -> Iface {
        let netmask = match cfg.prefix_len {
            0 => 0,
            n => u32::MAX << (32 - u32::from(n.min(32))),
        };
        Iface {
            mac,
            ip: cfg.ip,
            netmask,
            gateway: cfg.gateway,
            arp: ArpCache::new(cfg.arp),
            counters: IfaceCounters::default(),
            trusted: false,
            last_route: None,
            ip_ident: 0,
            echo_replies: VecDeque::with_capacity(ECHO_LOG),
        }
    }

    /// The neighbour cache (for inspection and for pre-seeding in tests).
    pub fn arp(&mut self) -> &mut ArpCache {
        self.last_route = None;
        &mut self.arp
    }

    /// Records a neighbour (forgets the route cache, which may hold its old address).
    pub(crate) fn arp_update(&mut self, now: Instant, ip: Ipv4Addr, mac: MacAddr, create: bool) {
        self.last_route = None;
        self.arp.update(now, ip, mac, create);
    }

    /// True when `ip` is on our subnet.
    pub fn on_link(&self, ip: Ipv4Addr) -> bool {
        (u32::from(ip) ^ u32::from(self.ip)) & self.netmask == 0
    }

    /// The next IPv4 identification value (RFC 6864: unique per source for fragmentable
    /// datagrams; ours carry DF, so a simple counter suffices).
    pub fn next_ident(&mut self) -> u16 {
        self.ip_ident = self.ip_ident.wrapping_add(1);
        self.ip_ident
    }

    /// Skips `n` identifications (the extra wire segments of a TSO frame use them).
    pub fn reserve_idents(&mut self, n: u64) {
        self.ip_ident = self.ip_ident.wrapping_add(n as u16);
    }

    /// Finds the MAC for sending to `dst`, sending an ARP request when it is unknown or stale.
    #[inline]
    pub fn route(&mut self, now: Instant, dst: Ipv4Addr, pools: &Pools, tx: &mut TxBatch) -> Route {
        match self.cached_route(now, dst) {
            Some(mac) => Route::Resolved(mac),
            None => self.route_uncached(now, dst, pools, tx),
        }
    }

    /// The next hop's MAC for `dst` if the one-entry route cache holds it (what
    /// [`Iface::route`] answers first); `None` when the full lookup is needed.
    #[inline]
    pub fn cached_route(&self, now: Instant, dst: Ipv4Addr) -> Option<MacAddr> {
        self.last_route
            .filter(|c| c.dst == dst && now < c.until)
            .map(|c| c.mac)
    }

    /// [`Iface::route`] past the one-entry cache: the routing decision and the neighbour
    /// cache.
    fn route_uncached(
        &mut self,
        now: Instant,
        dst: Ipv4Addr,
        pools: &Pools,
        tx: &mut TxBatch,
    ) -> Route {
        let hop = if self.on_link(dst) {
            dst
        } else if let Some(gw) = self.gateway {
            gw
        } else {
            self.counters.ip_out_no_routes += 1;
            return Route::NoRoute;
        };
        match self.arp.lookup(now, hop) {
            Lookup::Hit(mac) => {
                // Remember it for a while: nearly every frame goes to the same next hop. The
                // neighbour cache is consulted again after `retry` (so staleness is noticed)
                // or at once after any ARP update.
                let until = now + self.arp.config().retry;
                self.last_route = Some(RouteCache { dst, mac, until });
                Route::Resolved(mac)
            }
            Lookup::Refresh(mac) => {
                self.send_arp(pools, tx, ArpOperation::Request, MacAddr::ZERO, hop);
                Route::Resolved(mac)
            }
            Lookup::Miss => Route::Pending(hop),
        }
    }

    /// Queues a complete frame (Ethernet destination not yet set) until `hop` resolves, and
    /// sends the first ARP request for it. The frame's head must be exclusive (a header mbuf).
    pub fn send_unresolved(
        &mut self,
        now: Instant,
        hop: Ipv4Addr,
        frame: Pkt,
        pools: &Pools,
        tx: &mut TxBatch,
    ) {
        match self.arp.enqueue(now, hop, frame) {
            Ok(true) => self.send_arp(pools, tx, ArpOperation::Request, MacAddr::ZERO, hop),
            Ok(false) => {}
            Err(_dropped) => self.counters.arp_pending_drops += 1,
        }
    }

    /// Timer work: ARP retries, and frames dropped for addresses that never answered.
    pub fn poll(&mut self, now: Instant, pools: &Pools, tx: &mut TxBatch) {
        if self.arp.next_deadline().is_none_or(|d| d > now) {
            return;
        }
        let mut due = [Ipv4Addr::UNSPECIFIED; 16];
        let mut n = 0;
        let dropped = self.arp.poll(now, &mut |ip| {
            if n < due.len() {
                due[n] = ip;
                n += 1;
            }
        });
        self.counters.arp_pending_drops += dropped;
        for ip in &due[..n] {
            self.send_arp(pools, tx, ArpOperation::Request, MacAddr::ZERO, *ip);
        }
    }

    /// When [`Iface::poll`] next has work.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.arp.next_deadline()
    }

    /// Sends an ICMP echo request with `data_len` bytes of pattern data to `dst` (RFC 792).
    /// Returns false if there is no route or no mbuf; a request for an unresolved neighbour
    /// waits in the ARP queue.
    pub fn send_echo_request(
        &mut self,
        now: Instant,
        ping: Ping,
        pools: &Pools,
        tx: &mut TxBatch,
    ) -> bool {
        let Ping {
            dst,
            ident,
            seq_no,
            data_len,
        } = ping;
        let route = self.route(now, dst, pools, tx);
        if route == Route::NoRoute {
            return false;
        }
        let icmp = IcmpRepr::EchoRequest {
            ident,
            seq_no,
            data_len: usize::from(data_len),
        };
        let ip = Ipv4Repr {
            src: self.ip,
            dst,
            protocol: IpProtocol::Icmp,
            payload_len: 8 + data_len,
            ttl: 64,
            ident: self.next_ident(),
            dont_frag: true,
            dscp_ecn: 0,
        };
        let total = 14 + 20 + 8 + usize::from(data_len);
        let Some(mut p) = Pkt::alloc(&pools.data) else {
            self.counters.out_nombuf += 1;
            return false;
        };
        let Some(buf) = p.append(total) else {
            self.counters.out_nombuf += 1;
            return false;
        };
        let dst_mac = if let Route::Resolved(m) = route {
            m
        } else {
            MacAddr::ZERO
        };
        EthernetRepr {
            src: self.mac,
            dst: dst_mac,
            ethertype: EtherType::Ipv4,
        }
        .emit(buf);
        ip.emit(&mut buf[14..], true);
        for (i, b) in buf[42..].iter_mut().enumerate() {
            *b = i as u8;
        }
        icmp.emit(&mut buf[34..]);
        self.counters.icmp_out_msgs += 1;
        self.counters.ip_out_requests += 1;
        match route {
            Route::Pending(hop) => self.send_unresolved(now, hop, p, pools, tx),
            _ => tx.push(p),
        }
        true
    }

    /// Sends a gratuitous ARP announcing our address (RFC 5227 §3: sender and target IP ours).
    pub fn announce(&mut self, pools: &Pools, tx: &mut TxBatch) {
        let ip = self.ip;
        self.send_arp(pools, tx, ArpOperation::Request, MacAddr::ZERO, ip);
    }

    /// Builds and queues an ARP packet. Requests are broadcast; replies go to `target_mac`.
    fn send_arp(
        &mut self,
        pools: &Pools,
        tx: &mut TxBatch,
        op: ArpOperation,
        target_mac: MacAddr,
        target_ip: Ipv4Addr,
    ) {
        let arp = ArpRepr {
            operation: op,
            source_mac: self.mac,
            source_ip: self.ip,
            target_mac,
            target_ip,
        };
        let eth = EthernetRepr {
            src: self.mac,
            dst: if op == ArpOperation::Reply {
                target_mac
            } else {
                MacAddr::BROADCAST
            },
            ethertype: EtherType::Arp,
        };
        let Some(mut p) = Pkt::alloc(&pools.hdr) else {
            self.counters.out_nombuf += 1;
            return;
        };
        // Pad to the 60-byte Ethernet minimum, as hosts do.
        let Some(buf) = p.append(60) else {
            self.counters.out_nombuf += 1;
            return;
        };
        buf.fill(0);
        eth.emit(buf);
        arp.emit(&mut buf[EthernetFrame::<&[u8]>::HEADER_LEN..]);
        match op {
            ArpOperation::Reply => self.counters.arp_out_replies += 1,
            _ => self.counters.arp_out_requests += 1,
        }
        tx.push(p);
    }
}
