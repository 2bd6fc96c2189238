//! `Stack`: one core's engine, run to completion (ARCHITECTURE decision 2).
//!
//! [`Stack::poll`] is the loop body: flush what the application queued since the last poll,
//! `rx_burst`, pass each frame through the interface (ARP, IPv4, ICMP) to the TCP layer, run
//! due timers, and `tx_burst` everything produced. Time comes in as an argument (decision 3):
//! the stack never reads a clock, so two stacks over a simulated link run in virtual time.
//!
//! A stack owns its device queue, its pools, its interface state and its connections; nothing
//! is shared with other cores.

use std::net::Ipv4Addr;

use crate::buf::{Pkt, Pools};
use crate::dev::{Device, DeviceCaps, TxBatch};
use crate::iface::{ArpConfig, Iface, IfaceConfig, IfaceCounters, TcpIn};
use crate::time::Instant;

/// Frames taken per `rx_burst`.
pub const RX_BURST: usize = 32;

/// How a stack is set up.
#[derive(Clone, Debug)]
pub struct StackConfig {
    /// Our IPv4 address and prefix length.
    pub ip: Ipv4Addr,
    pub prefix_len: u8,
    /// Where off-link traffic goes.
    pub gateway: Option<Ipv4Addr>,
    pub arp: ArpConfig,
    /// Frames the TX batch holds before it drops (a TX ring that stays full).
    pub tx_batch: usize,
    /// Seed of every random choice (ISNs, ephemeral ports) (decision 3).
    pub seed: u64,
}

impl StackConfig {
    pub fn new(ip: Ipv4Addr, prefix_len: u8) -> StackConfig {
        StackConfig {
            ip,
            prefix_len,
            gateway: None,
            arp: ArpConfig::default(),
            tx_batch: 4096,
            seed: 0x5eed,
        }
    }
}

/// All counters of one stack, for printing and summing over cores.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub iface: IfaceCounters,
    /// Frames dropped because the TX batch was full.
    pub tx_dropped: u64,
    /// TCP segments handed to the TCP layer.
    pub tcp_in: u64,
}

impl Counters {
    /// Every counter as (name, value), interface first.
    pub fn entries(&self) -> Vec<(&'static str, u64)> {
        let mut v: Vec<_> = self.iface.entries().collect();
        v.push(("TxDropped", self.tx_dropped));
        v.push(("TcpInSegsDemuxed", self.tcp_in));
        v
    }

    /// Looks a counter up by its Linux-style name.
    pub fn get(&self, name: &str) -> Option<u64> {
        self.entries()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// Sums another core's counters into these.
    pub fn add(&mut self, o: &Counters) {
        self.iface.add(&o.iface);
        self.tx_dropped += o.tx_dropped;
        self.tcp_in += o.tcp_in;
    }
}

/// One core's TCP/IP stack over device `D`.
pub struct Stack<D: Device> {
    dev: D,
    caps: DeviceCaps,
    pools: Pools,
    iface: Iface,
    rx: Vec<Pkt>,
    tx: TxBatch,
    announced: bool,
    tcp_in: u64,
}

impl<D: Device> Stack<D> {
    /// A stack on `dev`, allocating from `pools`.
    pub fn new(dev: D, pools: Pools, cfg: StackConfig) -> Stack<D> {
        let caps = dev.caps().clone();
        let iface = Iface::new(
            caps.mac,
            IfaceConfig {
                ip: cfg.ip,
                prefix_len: cfg.prefix_len,
                gateway: cfg.gateway,
                arp: cfg.arp.clone(),
            },
        );
        Stack {
            dev,
            caps,
            pools,
            iface,
            rx: Vec::with_capacity(RX_BURST),
            tx: TxBatch::with_capacity(cfg.tx_batch),
            announced: !cfg.arp.gratuitous,
            tcp_in: 0,
        }
    }

    /// One iteration of the run-to-completion loop at time `now`. Returns the number of frames
    /// received (0 means the loop was idle).
    pub fn poll(&mut self, now: Instant) -> usize {
        if !self.announced {
            self.announced = true;
            self.iface.announce(&self.pools, &mut self.tx);
        }
        self.tx.flush(now, &mut self.dev);
        let n = self.dev.rx_burst(now, &mut self.rx, RX_BURST);
        // Take the vector out so frames can be handed to &mut self methods; put it back to keep
        // its capacity (no allocation per poll).
        let mut rx = std::mem::take(&mut self.rx);
        for frame in rx.drain(..) {
            if let Some(seg) = self.iface.input(now, frame, &self.pools, &mut self.tx) {
                self.tcp_input(now, seg);
            }
        }
        self.rx = rx;
        self.iface.poll(now, &self.pools, &mut self.tx);
        self.tx.flush(now, &mut self.dev);
        n
    }

    fn tcp_input(&mut self, _now: Instant, _seg: TcpIn) {
        self.tcp_in += 1;
    }

    /// The earliest instant at which `poll` has timer work or the device has a frame due
    /// (simulated devices), for virtual-time drivers.
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.iface.next_deadline(), self.dev.next_arrival()]
            .into_iter()
            .flatten()
            .min()
    }

    /// This stack's counters.
    pub fn counters(&self) -> Counters {
        Counters {
            iface: self.iface.counters.clone(),
            tx_dropped: self.tx.dropped,
            tcp_in: self.tcp_in,
        }
    }

    pub fn iface(&mut self) -> &mut Iface {
        &mut self.iface
    }

    pub fn device(&self) -> &D {
        &self.dev
    }

    pub fn device_mut(&mut self) -> &mut D {
        &mut self.dev
    }

    pub fn caps(&self) -> &DeviceCaps {
        &self.caps
    }

    pub fn pools(&self) -> &Pools {
        &self.pools
    }
}
