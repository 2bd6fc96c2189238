//! Receive prediction: the frame nearly every segment arrives in, checked and parsed in one
//! straight pass over fixed offsets, before the general layer-by-layer input of `input.rs`.
//!
//! The predicted frame: Ethernet to our own MAC with type IPv4; an IPv4 header of exactly 20
//! bytes (version 4, IHL 5) whose checksum the port verified, or that verifies in software; a
//! total length within the frame; our own address (not broadcast); not a fragment; protocol
//! TCP; a TCP checksum verified by the port or in software; a TCP header in the first segment
//! of 20 bytes, or of 32 with the `NOP NOP TS` layout of RFC 7323 appendix A.
//!
//! Prediction only *accepts*: a frame that fails any check is handed back untouched, no counter
//! having moved, and the general path decides and counts as it always does. An accepted frame
//! gives the very `Segment` and counter increments the general path would (`EthInFrames`,
//! `IpInReceives`, `IpInDelivers`, the ECN field's `IpExtIn*Pkts`), which a unit test checks
//! on generated and mutated frames.

use std::net::Ipv4Addr;

use super::IpLayer;
use super::input::chain_sum;
use crate::buf::CsumVerdict;
use crate::buf::Pkt;
use crate::tcp::{Ecn, Segment};
use crate::wire::{Checksum, SeqNum, TcpFlags, TcpRepr, checksum};

use super::{ETH, IP4, TCP, TCP_TS};

/// Where the TCP header starts.
const L4: usize = ETH + IP4;
/// `NOP NOP kind=8 len=10`.
const TS_LEAD: [u8; 4] = [1, 1, 8, 10];

/// What a predicted frame carries, read before anything is changed.
pub(super) struct Predicted {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    /// The IPv4 header's ECN field (RFC 3168 §5).
    ecn: Ecn,
    repr: TcpRepr,
    /// The IPv4 total length.
    total: usize,
    /// The TCP header length.
    thlen: usize,
}

#[inline(always)]
fn be16(d: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([d[at], d[at + 1]])
}

#[inline(always)]
fn be32(d: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}

impl IpLayer {
    /// Takes a frame that [`IpLayer::predict`] accepted as `p`: counters, then the segment.
    #[inline]
    pub(super) fn accept_predicted(&mut self, mut frame: Pkt, p: Predicted) -> Segment {
        self.counters.eth_in_frames += 1;
        self.counters.ip_in_receives += 1;
        self.counters.ip_in_delivers += 1;
        self.counters.in_ecn(false, p.ecn);
        // Drop Ethernet padding beyond the datagram, then the headers.
        frame.trim_back(frame.len() - ETH - p.total);
        let payload = if p.total - IP4 > p.thlen {
            frame.trim_front(L4 + p.thlen);
            Some(frame)
        } else {
            None
        };
        Segment {
            src: p.src.into(),
            dst: p.dst.into(),
            ecn: p.ecn,
            repr: p.repr,
            payload,
        }
    }

    /// Every check of the module documentation; reads the segment if they all pass.
    #[inline]
    pub(super) fn predict(&self, frame: &Pkt) -> Option<Predicted> {
        let first = frame.data();
        // A fixed-size view: the reads below at constant offsets need no bounds checks.
        let d: &[u8; L4 + TCP] = first.get(..L4 + TCP)?.try_into().ok()?;
        if d[..6] != self.mac.0
            || be16(d, 12) != 0x0800
            || d[ETH] != 0x45
            || d[ETH + 9] != 6
            || be16(d, ETH + 6) & 0x3fff != 0
        {
            return None;
        }
        let dst = Ipv4Addr::from(be32(d, ETH + 16));
        let total = usize::from(be16(d, ETH + 2));
        if dst != self.ip4 || total < IP4 + TCP || ETH + total > frame.len() {
            return None;
        }
        let thlen = usize::from(d[L4 + 12] >> 4) * 4;
        // The header must lie in the first segment, within the datagram.
        if thlen > first.len().min(ETH + total) - L4 {
            return None;
        }
        let timestamps = match thlen {
            TCP => None,
            TCP_TS => {
                let o: &[u8; TCP_TS - TCP] = first.get(L4 + TCP..L4 + TCP_TS)?.try_into().ok()?;
                if o[..4] != TS_LEAD {
                    return None;
                }
                Some((be32(o, 4), be32(o, 8)))
            }
            _ => return None,
        };
        let src = Ipv4Addr::from(be32(d, ETH + 12));
        if !self.checksums_ok(frame, src, dst, total) {
            return None;
        }
        let repr = TcpRepr {
            src_port: be16(d, L4),
            dst_port: be16(d, L4 + 2),
            seq: SeqNum(be32(d, L4 + 4)),
            ack: SeqNum(be32(d, L4 + 8)),
            flags: TcpFlags(d[L4 + 13]),
            window: be16(d, L4 + 14),
            urgent: be16(d, L4 + 18),
            timestamps,
            ..TcpRepr::default()
        };
        Some(Predicted {
            src,
            dst,
            ecn: Ecn::from_bits(d[ETH + 1]),
            repr,
            total,
            thlen,
        })
    }

    /// The IPv4 header and TCP checksums are good: as the port says, or verified here.
    #[inline(always)]
    fn checksums_ok(&self, frame: &Pkt, src: Ipv4Addr, dst: Ipv4Addr, total: usize) -> bool {
        if self.caps.trusted {
            // A link that cannot corrupt frames (`DeviceCaps::trusted`): as if checked.
            return true;
        }
        let rx = frame.rx_csum();
        let ip_ok = match rx.ip {
            CsumVerdict::Good => true,
            CsumVerdict::Bad => false,
            CsumVerdict::Unknown => {
                checksum::finish(checksum::sum(&frame.data()[ETH..ETH + IP4], 0)) == 0
            }
        };
        if !ip_ok {
            return false;
        }
        match rx.l4 {
            CsumVerdict::Good => true,
            CsumVerdict::Bad => false,
            CsumVerdict::Unknown => {
                let len = total - IP4;
                let pseudo = checksum::pseudo_header(src, dst, 6, len as u32);
                let sum = chain_sum(frame, L4, len, Checksum::with_sum(pseudo)).sum();
                checksum::fold(sum) == 0xffff
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::{DEFAULT_DATA_ROOM, HEADROOM, Mempool, Pools};
    use crate::dev::DeviceCaps;
    use crate::dev::TxBatch;
    use crate::ip::{IpCidr, IpConfig, NeighborConfig};
    use crate::rand::Rng;
    use crate::time::Instant;
    use crate::wire::MacAddr;

    const US: [u8; 6] = [2, 0, 0, 0, 0, 2];
    const PEER: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const US_IP: [u8; 4] = [10, 0, 0, 2];
    const PEER_IP: [u8; 4] = [10, 0, 0, 1];

    fn csum(data: &[u8], initial: u32) -> u16 {
        let mut sum = initial
            + data
                .chunks(2)
                .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
                .sum::<u32>();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    /// A TCP frame from the peer to us (built without `wire`), checksums valid.
    fn frame(options: &[u8], payload: usize, flags: u8, pad: usize) -> Vec<u8> {
        let thlen = 20 + options.len();
        let total = 20 + thlen + payload;
        let mut f = Vec::new();
        f.extend_from_slice(&US);
        f.extend_from_slice(&PEER);
        f.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
        f.extend_from_slice(&(total as u16).to_be_bytes());
        f.extend_from_slice(&[0x12, 0x34, 0x40, 0, 64, 6, 0, 0]);
        f.extend_from_slice(&PEER_IP);
        f.extend_from_slice(&US_IP);
        f.extend_from_slice(&[0x9c, 0x40, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8]);
        f.extend_from_slice(&[((thlen / 4) as u8) << 4, flags, 0x10, 0, 0, 0, 0, 0]);
        f.extend_from_slice(options);
        f.extend((0..payload).map(|i| i as u8));
        fix(&mut f);
        f.resize(f.len() + pad, 0);
        f
    }

    /// Recomputes both checksums of a frame built by `frame` (as far as its lengths allow).
    fn fix(f: &mut [u8]) {
        if f.len() < ETH + IP4 {
            return;
        }
        f[ETH + 10..ETH + 12].fill(0);
        let c = csum(&f[ETH..ETH + IP4], 0);
        f[ETH + 10..ETH + 12].copy_from_slice(&c.to_be_bytes());
        let total = usize::from(u16::from_be_bytes([f[ETH + 2], f[ETH + 3]]));
        let end = (ETH + total).min(f.len());
        if end < L4 + 18 {
            return;
        }
        f[L4 + 16..L4 + 18].fill(0);
        let len = (end - L4) as u32;
        let pseudo = [
            &PEER_IP[..],
            &US_IP[..],
            &[0, 6],
            &(len as u16).to_be_bytes(),
        ]
        .concat();
        let initial = u32::from(!csum(&pseudo, 0));
        let c = csum(&f[L4..end], initial);
        f[L4 + 16..L4 + 18].copy_from_slice(&c.to_be_bytes());
    }

    fn valid_frames() -> Vec<Vec<u8>> {
        let ts = [1, 1, 8, 10, 0, 0, 1, 0, 0, 0, 2, 0];
        let mss = [2, 4, 5, 0xb4];
        let sack = [1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 9];
        let mut v = Vec::new();
        for opts in [&[][..], &ts, &mss, &sack, &[1, 1, 1, 1]] {
            for payload in [0, 1, 64, 700] {
                for (flags, pad) in [(0x10, 0), (0x18, 0), (0x11, 0), (0x02, 0), (0x10, 6)] {
                    v.push(frame(opts, payload, flags, pad));
                }
            }
        }
        // Every ECN codepoint (RFC 3168 §5), under a DSCP, on every fifth frame.
        for (i, f) in v.clone().iter().enumerate().step_by(5) {
            let mut g = f.clone();
            g[ETH + 1] = 0xb8 | (i % 4) as u8;
            fix(&mut g);
            v.push(g);
        }
        v
    }

    fn pkt(pool: &Mempool, bytes: &[u8]) -> Pkt {
        Pkt::from_slice(pool, bytes).expect("mbufs")
    }

    fn payload_bytes(p: &Option<Pkt>) -> Option<Vec<u8>> {
        p.as_ref().map(|p| {
            let mut v = vec![0; p.len()];
            p.copy_out(0, &mut v);
            v
        })
    }

    /// The same frame through prediction (then the general path) and through the general
    /// path alone: the same segment out, the same counters.
    fn same_outcome(pools: &Pools, pool: &Mempool, bytes: &[u8], trusted: bool) -> bool {
        let cfg = IpConfig {
            addrs: vec![IpCidr::new(std::net::Ipv4Addr::from(US_IP), 24)],
            gateway: None,
            gateway6: None,
            neighbor: NeighborConfig::default(),
        };
        let caps = DeviceCaps {
            trusted,
            ..DeviceCaps::software(MacAddr(US), 1500)
        };
        let (mut a, mut b) = (
            IpLayer::new(&caps, cfg.clone(), 16),
            IpLayer::new(&caps, cfg, 16),
        );
        let mut tx = TxBatch::with_capacity(8);
        let now = Instant::ZERO;
        let predicted = a.predict(&pkt(pool, bytes)).is_some();
        let x = a.input(now, pkt(pool, bytes), pools, &mut tx);
        let y = b.input_general(now, pkt(pool, bytes), pools, &mut tx);
        let key = |s: &Option<Segment>| s.as_ref().map(|s| (s.src, s.dst, s.ecn, s.repr));
        assert_eq!(key(&x), key(&y), "{bytes:02x?}");
        let px = x.and_then(|s| s.payload);
        let py = y.and_then(|s| s.payload);
        assert_eq!(payload_bytes(&px), payload_bytes(&py), "{bytes:02x?}");
        assert_eq!(a.counters, b.counters, "{bytes:02x?}");
        predicted
    }

    #[test]
    fn prediction_agrees_with_the_general_path() {
        crate::eal::init_for_tests();
        let pools = Pools {
            data: Mempool::create("tpd", 1023, 0, DEFAULT_DATA_ROOM).expect("pool"),
            hdr: Mempool::create("tph", 63, 0, DEFAULT_DATA_ROOM).expect("pool"),
            indirect: Mempool::create("tpi", 63, 0, 0).expect("pool"),
        };
        // Small mbufs: frames longer than 128 bytes arrive as chains.
        let small = Mempool::create("tps", 1023, 0, (HEADROOM + 128) as u16).expect("pool");
        let mut rng = Rng::new(0x9e3d_1c7a);
        let mut predicted = 0;
        for base in valid_frames() {
            for pool in [&pools.data, &small] {
                for trusted in [false, true] {
                    predicted += usize::from(same_outcome(&pools, pool, &base, trusted));
                }
            }
            for _ in 0..200 {
                let mut f = base.clone();
                for _ in 0..=rng.below(3) {
                    let i = rng.below(f.len().min(80) as u64) as usize;
                    f[i] = rng.next_u32() as u8;
                }
                if rng.chance(0.5) {
                    fix(&mut f);
                }
                if rng.chance(0.2) {
                    f.truncate(rng.below(f.len() as u64) as usize);
                }
                same_outcome(&pools, &pools.data, &f, rng.chance(0.5));
            }
        }
        assert!(
            predicted >= 100,
            "prediction took only {predicted} valid frames"
        );
        assert_eq!(pools.data.in_use() + small.in_use(), 0, "no mbuf leaked");
    }
}
