//! The segment boundary: what the TCP core takes in and hands out, and nothing below it
//! (ARCHITECTURE decision 13).
//!
//! In: a [`Segment`], parsed and checksummed by the layer below: the two addresses (IPv4 or
//! IPv6), the ECN field of the IP header it came in ([`Ecn`], RFC 3168 §5), the TCP header as a
//! [`TcpRepr`], the payload as the mbufs it arrived in.
//!
//! Out: an [`OutSegment`] handed to a [`SegmentSink`] that TCP does not own. The IP layer
//! implements the sink for a stack (routes, neighbour resolution, Ethernet and IP headers,
//! identification, offloads, port quirks); tests implement it in memory. TCP says what it
//! wants of the layer below as plain fields: the TSO segment size of a large segment, the ECN
//! codepoint to put in the IP header (ECT(0) on new data of an ECN connection, RFC 3168
//! §6.1.1), and the connection's [`FlowId`], under which the layer below may cache
//! per-connection work (its header template). What the layer below can carry is told once, as [`PathCaps`] per address
//! family, when the TCP layer is created.
//!
//! Invariants: TCP never sees a device, a port, a MAC address or a DPDK constant; a segment's
//! payload is never modified by the sink (it is the queued original: the sink sends a clone).

use std::net::IpAddr;

use crate::buf::Pkt;
use crate::wire::TcpRepr;

use super::flow::FourTuple;

/// The ECN field of an IP header (RFC 3168 §5): the two low bits of the IPv4 TOS byte or of
/// the IPv6 traffic class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Ecn {
    /// Not ECN-Capable Transport (00).
    #[default]
    NotEct = 0,
    /// ECN-Capable Transport, ECT(1) (01).
    Ect1 = 1,
    /// ECN-Capable Transport, ECT(0) (10): what an RFC 3168 sender marks.
    Ect0 = 2,
    /// Congestion Experienced (11): a router's mark.
    Ce = 3,
}

impl Ecn {
    /// The codepoint in the two low bits of `field` (a TOS byte or a traffic class).
    #[inline]
    pub const fn from_bits(field: u8) -> Ecn {
        match field & 3 {
            0 => Ecn::NotEct,
            1 => Ecn::Ect1,
            2 => Ecn::Ect0,
            _ => Ecn::Ce,
        }
    }

    /// The two bits.
    #[inline]
    pub const fn bits(self) -> u8 {
        self as u8
    }
}

/// An arriving segment that passed the layer below's checks.
#[derive(Debug)]
pub struct Segment {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The ECN field of the IP header it arrived in.
    pub ecn: Ecn,
    pub repr: TcpRepr,
    /// The frame trimmed to the TCP payload; `None` when the segment carries no data.
    pub payload: Option<Pkt>,
}

impl Segment {
    /// Payload bytes.
    #[inline]
    pub fn payload_len(&self) -> usize {
        self.payload.as_ref().map_or(0, Pkt::len)
    }
}

/// A connection's identity for the layer below's per-connection caches: unique among the
/// connections alive at one time, and never the same for two successive connections (a slab
/// index and its generation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowId {
    pub index: u32,
    pub generation: u32,
}

/// A segment TCP wants sent.
#[derive(Debug)]
pub struct OutSegment<'a> {
    pub tuple: &'a FourTuple,
    /// The connection it belongs to; `None` for answers to segments of no connection.
    pub flow: Option<FlowId>,
    pub repr: &'a TcpRepr,
    /// The payload as queued (the sink sends a clone or a copy, never this chain itself).
    pub payload: Option<&'a Pkt>,
    /// Cut the payload into wire segments of this many bytes (TSO; only asked for when
    /// [`PathCaps::tso`] allows it and the payload exceeds one segment).
    pub tso_segsz: Option<u16>,
    /// The ECN field to put in the IP header: [`Ecn::Ect0`] on new data of an ECN connection
    /// (every wire segment of a TSO frame carries it), else [`Ecn::NotEct`].
    pub ecn: Ecn,
}

impl OutSegment<'_> {
    /// Wire segments this segment becomes.
    #[inline]
    pub fn wire_segments(&self) -> u64 {
        match (self.tso_segsz, self.payload) {
            (Some(sz), Some(p)) => p.len().div_ceil(usize::from(sz.max(1))).max(1) as u64,
            _ => 1,
        }
    }
}

/// Where TCP's segments go.
pub trait SegmentSink {
    /// Sends `seg` (or queues it until the next hop resolves). False when it could not be
    /// built (no mbuf, no route): TCP treats that as a loss and its timers repair it.
    fn send(&mut self, seg: &OutSegment<'_>) -> bool;

    /// Whether the layer below has room for more of TCP's output now. False means its
    /// transmit queue is stopped (a full device ring backed up into it): TCP then sends no
    /// data and no ACK, keeps the connection queued for output, and tries again on a later
    /// flush (Linux's TCP small queues and `netif_xmit_stopped`). A sink counts its refusals.
    /// In-memory sinks always have room.
    fn may_send(&mut self) -> bool {
        true
    }

    /// Whether a control segment (a SYN of a new connection) may still go now, though data
    /// waits: the layer below keeps room for those beyond where data stops. False only when
    /// that room is used up too (a burst of connects larger than the queue): the SYN then
    /// waits its turn like data.
    fn has_control_room(&mut self) -> bool {
        true
    }
}

/// What the layer below carries to a peer of one address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathCaps {
    /// The largest TCP segment (header and payload) one IP packet carries: the MTU less the
    /// IP header. Our MSS is this less the 20-byte TCP header (RFC 9293 §3.7.1).
    pub max_segment: u16,
    /// Large segments the layer below cuts into wire segments itself (TSO), if it can.
    pub tso: Option<TsoCaps>,
}

/// TSO limits (see [`PathCaps::tso`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TsoCaps {
    /// The largest TCP segment (header and payload) of one wire segment cut from a TSO
    /// frame: usually [`PathCaps::max_segment`], less where the port's TSO counts more headers
    /// against the MTU.
    pub max_wire_segment: u16,
    /// The most wire segments one frame may become.
    pub max_segs: u16,
    /// The most payload bytes one frame may carry (what the IP length field allows once the
    /// headers are counted).
    pub max_payload: u32,
}

impl PathCaps {
    /// A plain link of `mtu` bytes for `ip_header` bytes of IP header, no TSO.
    pub const fn plain(mtu: u16, ip_header: u16) -> PathCaps {
        PathCaps {
            max_segment: mtu.saturating_sub(ip_header),
            tso: None,
        }
    }
}

/// [`PathCaps`] for both families.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkCaps {
    pub v4: PathCaps,
    pub v6: PathCaps,
}

impl LinkCaps {
    /// A plain Ethernet-sized link (MTU 1500), no TSO: what tests use.
    pub const fn ethernet() -> LinkCaps {
        LinkCaps {
            v4: PathCaps::plain(1500, 20),
            v6: PathCaps::plain(1500, 40),
        }
    }

    /// The caps for a peer at `ip`.
    #[inline]
    pub fn for_addr(&self, ip: IpAddr) -> &PathCaps {
        match ip {
            IpAddr::V4(_) => &self.v4,
            IpAddr::V6(_) => &self.v6,
        }
    }
}
