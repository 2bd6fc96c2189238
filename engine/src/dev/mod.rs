//! Devices: where frames come from and go to, in bursts.
//!
//! The [`Device`] trait is all a [`crate::Stack`] needs from a link: receive a burst, transmit a
//! burst, and know the port's capabilities. Implementations:
//! - [`dpdk::DpdkQueue`]: one rx/tx queue pair of a DPDK ethdev port (tap, memif, af_packet,
//!   ring, PCI), set up from a [`spec::PortSpec`] by [`dpdk::Port::open`];
//! - [`sim::SimPort`]: one end of an in-process simulated link in virtual time (latency,
//!   bandwidth, queue limit), for deterministic tests;
//! - [`fault::FaultInjector`]: wraps any device and drops, duplicates, reorders or corrupts
//!   frames from a seeded generator.
//!
//! Contract of `tx_burst`: frames are taken from the front of the vector; the ones the device
//! accepted are removed (the device now owns them), the rest stay for the caller to retry or
//! drop. No method allocates on the data path.

pub mod dpdk;
pub mod fault;
pub mod pcap;
pub mod sim;
pub mod spec;

use crate::buf::Pkt;
use crate::time::Instant;
use crate::wire::MacAddr;

/// What a device can do, read from `rte_eth_dev_info` for DPDK ports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceCaps {
    /// The port's MAC address.
    pub mac: MacAddr,
    /// Largest IP packet the link carries (the IP MTU, without the Ethernet header).
    pub mtu: u16,
    /// Transmit offloads enabled on the port.
    pub tx: TxCaps,
    /// Receive checksum offloads enabled on the port.
    pub rx_ipv4_cksum: bool,
    pub rx_tcp_cksum: bool,
    /// The PMD copies (or frees) a frame inside `tx_burst` (tap, af_packet, memif copy mode):
    /// headers may then be written into a queued payload's headroom (decision 5a). False when
    /// it holds on to the mbuf (real NICs, memif zero-copy) or hands it to a peer (net_ring).
    pub tx_copies: bool,
    /// Most wire segments one TSO frame may become (tap: 64); 0 when unknown.
    pub max_tso_segs: u16,
    /// The PMD's TSO checks `segsz + l2 + l3 + l4 <= MTU`, counting the Ethernet header
    /// (net_tap, note §3 limit 1): TSO segments must then be 14 bytes smaller than the MSS.
    pub tso_counts_l2: bool,
    /// Most mbufs in one transmitted frame; 0 when unknown (no limit published).
    pub max_tx_segs: u16,
    /// The port's TCP checksum offload is wrong for a chain in which a segment before the
    /// last has an odd length (net_tap of DPDK 22.11, whose `tap_write_mbufs` sums each
    /// segment as if it started on a 16-bit word), and so is its TSO for a wire segment built
    /// from such pieces (`rte_gso_segment` output goes through the same code). With it set, the
    /// engine computes the TCP checksum itself for such frames and sends such TSO frames as
    /// ordinary ones (`tcp::frame::tx_csum_offload_safe`); other frames keep the offload.
    pub tx_cksum_odd_chain_bug: bool,
    /// The link cannot corrupt frames (net_ring: both ends in one process, frames never
    /// leave memory). IPv4 and TCP checksums are then neither computed nor verified, as
    /// Linux does on loopback. Devices that may alter frames (the fault injector when it
    /// corrupts) clear it.
    pub trusted: bool,
    /// The driver's name (`net_tap`, `net_ring`, ...), for messages.
    pub driver: String,
}

/// Transmit offloads enabled on a port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxCaps {
    pub ipv4_cksum: bool,
    pub tcp_cksum: bool,
    pub tso: bool,
    pub multi_segs: bool,
}

impl DeviceCaps {
    /// Capabilities of a plain software link: no offloads, chained frames accepted.
    pub fn software(mac: MacAddr, mtu: u16) -> DeviceCaps {
        DeviceCaps {
            mac,
            mtu,
            tx: TxCaps {
                multi_segs: true,
                ..TxCaps::default()
            },
            rx_ipv4_cksum: false,
            rx_tcp_cksum: false,
            tx_copies: true,
            max_tso_segs: 0,
            tso_counts_l2: false,
            max_tx_segs: 0,
            tx_cksum_odd_chain_bug: false,
            trusted: false,
            driver: "software".into(),
        }
    }
}

/// A link that moves Ethernet frames in bursts.
pub trait Device {
    /// The device's capabilities (fixed once the port is up).
    fn caps(&self) -> &DeviceCaps;

    /// Receives up to `max` frames, appending them to `out`. Returns how many arrived.
    fn rx_burst(&mut self, now: Instant, out: &mut Vec<Pkt>, max: usize) -> usize;

    /// Transmits frames from the front of `pkts`, removing those the device accepted.
    /// Returns how many it accepted.
    fn tx_burst(&mut self, now: Instant, pkts: &mut Vec<Pkt>) -> usize;

    /// For simulated devices: the earliest future time something will arrive, so a virtual
    /// clock can jump there. Real devices return `None`.
    fn next_arrival(&self) -> Option<Instant> {
        None
    }
}

impl<D: Device + ?Sized> Device for Box<D> {
    fn caps(&self) -> &DeviceCaps {
        (**self).caps()
    }
    fn rx_burst(&mut self, now: Instant, out: &mut Vec<Pkt>, max: usize) -> usize {
        (**self).rx_burst(now, out, max)
    }
    fn tx_burst(&mut self, now: Instant, pkts: &mut Vec<Pkt>) -> usize {
        (**self).tx_burst(now, pkts)
    }
    fn next_arrival(&self) -> Option<Instant> {
        (**self).next_arrival()
    }
}

/// Removes the first `n` frames of `pkts` without dropping them: the device took ownership.
pub(crate) fn forget_front(pkts: &mut Vec<Pkt>, n: usize) {
    debug_assert!(n <= pkts.len());
    for p in pkts.drain(..n) {
        // The device now owns these references; do not free them here.
        let _ = p.into_raw();
    }
}

/// Flushes in a row that may make no progress before the frame at the head is dropped: a
/// frame the port refuses for good (or a ring that stays full) must not block all output.
pub const TX_STALL_LIMIT: u32 = 4096;

/// Frames waiting for the next `tx_burst`, bounded: a push beyond the capacity drops the frame
/// and counts it (backpressure from a full TX ring turns into loss that TCP recovers from).
/// Frames the device refuses stay queued in order; after [`TX_STALL_LIMIT`] flushes in a row
/// without progress, the head frame is dropped and counted.
#[derive(Debug)]
pub struct TxBatch {
    pkts: Vec<Pkt>,
    cap: usize,
    stalls: u32,
    /// Frames dropped because the batch was full or the device kept refusing them.
    pub dropped: u64,
}

impl TxBatch {
    pub fn with_capacity(cap: usize) -> TxBatch {
        TxBatch {
            pkts: Vec::with_capacity(cap),
            cap,
            stalls: 0,
            dropped: 0,
        }
    }

    /// Queues a frame; drops and counts it if the batch is full.
    pub fn push(&mut self, p: Pkt) {
        if self.pkts.len() < self.cap {
            self.pkts.push(p);
        } else {
            self.dropped += 1;
        }
    }

    pub fn len(&self) -> usize {
        self.pkts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pkts.is_empty()
    }

    /// Room left before pushes start dropping.
    pub fn room(&self) -> usize {
        self.cap - self.pkts.len()
    }

    /// Hands the queued frames to `dev`; the ones it refuses stay queued for the next flush.
    pub fn flush<D: Device + ?Sized>(&mut self, now: Instant, dev: &mut D) -> usize {
        if self.pkts.is_empty() {
            return 0;
        }
        let sent = dev.tx_burst(now, &mut self.pkts);
        if sent > 0 {
            self.stalls = 0;
        } else {
            self.stalls += 1;
            if self.stalls >= TX_STALL_LIMIT {
                self.stalls = 0;
                self.pkts.remove(0);
                self.dropped += 1;
            }
        }
        sent
    }

    /// The queued frames (for inspection in tests).
    pub fn frames(&self) -> &[Pkt] {
        &self.pkts
    }
}
