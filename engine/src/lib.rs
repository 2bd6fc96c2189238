//! A kernel-bypass TCP/IP engine on DPDK.
//!
//! One [`Stack`] per core runs to completion (ARCHITECTURE decision 2):
//! `rx_burst → wire parse → ip (ARP, ND, IPv4, IPv6, ICMP, demux) → tcp input → application events →
//! timers → write_xmit → tx_burst`. Payload lives in DPDK mbufs ([`buf::Pkt`]) from the wire to
//! the application and back; headers are parsed by zero-copy views ([`wire`]) that never panic.
//!
//! Module map: [`time`] and [`rand`] (injected time and randomness), [`buf`] (the owned mbuf),
//! [`eal`] (DPDK start-up), [`wire`] (header views and reprs), [`dev`] (the `Device` trait, DPDK
//! ports, the simulated link and fault injector), [`ip`] (the IP layer: ARP and Neighbor
//! Discovery, IPv4, IPv6, ICMP, routes, frames from TCP's segments), [`tcp`] (the TCP core,
//! which stops at the segment).

pub mod buf;
pub mod dev;
pub mod eal;
pub mod ip;
pub mod mib;
pub mod rand;
pub mod rss;
pub mod stack;
pub mod tcp;
pub mod time;
pub mod wire;

pub use stack::{Counters, Stack, StackConfig};
