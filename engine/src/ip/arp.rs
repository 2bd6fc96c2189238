//! ARP (RFC 826): answering requests for our IPv4 addresses, learning neighbours from what
//! arrives, and sending requests for the addresses the neighbour cache asks about.
//!
//! Input rules: a sender with a multicast MAC, or an unknown operation, is an error
//! (`ArpInErrors`); an address probe (sender 0.0.0.0, RFC 5227 §2.1.1) for one of our
//! addresses is answered so the prober sees the conflict, and teaches nothing; otherwise the
//! sender is merged into an existing entry, and added when the packet targets one of our
//! addresses (RFC 826 "packet reception"). Frames that waited for the sender are released.

use std::net::{IpAddr, Ipv4Addr};

use super::ETH;
use super::IpLayer;
use crate::buf::{Pkt, Pools};
use crate::dev::TxBatch;
use crate::time::Instant;
use crate::wire::{ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetRepr, MacAddr};

impl IpLayer {
    /// One received ARP packet (the frame's payload after the Ethernet header).
    pub(super) fn arp_input(&mut self, now: Instant, frame: &Pkt, pools: &Pools, tx: &mut TxBatch) {
        let repr =
            match ArpPacket::new_checked(&frame.data()[ETH..]).and_then(|p| ArpRepr::parse(&p)) {
                Ok(r) => r,
                Err(_) => {
                    self.counters.arp_in_errors += 1;
                    return;
                }
            };
        if repr.source_mac.is_multicast() || matches!(repr.operation, ArpOperation::Unknown(_)) {
            self.counters.arp_in_errors += 1;
            return;
        }
        let for_us = self.is_local(IpAddr::V4(repr.target_ip));
        if repr.source_ip.is_unspecified() {
            if repr.operation == ArpOperation::Request && for_us {
                self.counters.arp_in_requests += 1;
                self.send_arp_reply(&repr, pools, tx);
            }
            return;
        }
        self.neighbor_update(now, IpAddr::V4(repr.source_ip), repr.source_mac, for_us);
        self.release_pending(IpAddr::V4(repr.source_ip), repr.source_mac, tx);
        if repr.operation == ArpOperation::Reply {
            self.counters.arp_in_replies += 1;
            return;
        }
        self.counters.arp_in_requests += 1;
        if for_us {
            self.send_arp_reply(&repr, pools, tx);
        }
    }

    /// Answers the request `req` for one of our addresses (its target).
    fn send_arp_reply(&mut self, req: &ArpRepr, pools: &Pools, tx: &mut TxBatch) {
        let (mac, ip, ours) = (req.source_mac, req.source_ip, req.target_ip);
        self.send_arp(pools, tx, ArpOperation::Reply, mac, ip, ours);
    }

    /// Asks who has `target` (broadcast), from our address on its prefix. A request for one
    /// of our own addresses is the gratuitous announcement of RFC 5227 §3.
    pub(super) fn send_arp_request(&mut self, target: Ipv4Addr, pools: &Pools, tx: &mut TxBatch) {
        let src = match self.source_for(IpAddr::V4(target)) {
            Some(IpAddr::V4(a)) => a,
            _ => return,
        };
        self.send_arp(pools, tx, ArpOperation::Request, MacAddr::ZERO, target, src);
    }

    /// Builds and queues an ARP packet from our address `source_ip`. Requests are broadcast;
    /// replies go to `target_mac`.
    fn send_arp(
        &mut self,
        pools: &Pools,
        tx: &mut TxBatch,
        op: ArpOperation,
        target_mac: MacAddr,
        target_ip: Ipv4Addr,
        source_ip: Ipv4Addr,
    ) {
        let arp = ArpRepr {
            operation: op,
            source_mac: self.mac,
            source_ip,
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
        let frame = Pkt::alloc(&pools.hdr).and_then(|mut p| {
            // Pad to the 60-byte Ethernet minimum, as hosts do.
            let buf = p.append(60)?;
            buf.fill(0);
            eth.emit(buf);
            arp.emit(&mut buf[ETH..]);
            Some(p)
        });
        if self.emit_or_count(frame, tx) {
            match op {
                ArpOperation::Reply => self.counters.arp_out_replies += 1,
                _ => self.counters.arp_out_requests += 1,
            }
        }
    }
}
