//! A port quirk: DPDK 22.11's net_tap computes its "offloaded" TCP checksum wrongly for mbuf
//! chains with odd-length pieces (`DeviceCaps::tx_cksum_odd_chain_bug`). This file holds the
//! rule that says which chains it gets right; `tx` computes the checksum itself for an
//! ordinary frame the rule rejects, and sends a TSO unit the rule rejects as ordinary frames.
//! Fixed upstream in DPDK 23.11 (81890dbb91, "net/tap: rework checksum offloading").

use crate::buf::Pkt;

/// Whether a port with `DeviceCaps::tx_cksum_odd_chain_bug` computes the right TCP checksum
/// for `chain`: for an ordinary frame, `chain` is the frame, `start` the TCP header's offset
/// and `wire` `usize::MAX`; for a TSO frame, `chain` is the payload alone, `start` 0 and `wire`
/// the TSO segment size (the port copies the headers into each wire segment separately).
///
/// Cause: DPDK 22.11's net_tap computes the "offloaded" checksum in software, in
/// `tap_write_mbufs` (drivers/net/tap/rte_eth_tap.c): the TCP header from a copy, then every
/// further piece of the chain through `tap_tx_l4_add_rcksum`, i.e. `__rte_raw_cksum(iov_base,
/// iov_len, sum)`, which reads each piece as whole 16-bit words from its own first byte. A
/// piece that starts an odd number of bytes into the segment has all its bytes added in the
/// wrong half of their words, so the checksum is wrong, identically on every retransmission,
/// and the peer drops the segment for good. Its TSO (`rte_gso_segment`, `gso_do_segment`)
/// builds each wire segment from a copy of the headers and indirect pieces of the input
/// chain, cut where the input's segments and the wire segments end, and writes those through
/// the same function.
///
/// Rule: the offload is right when every segment boundary of `chain` past `start` lies an even
/// number of bytes past `start`, or, with TSO, past the start of the `wire`-byte wire segment
/// it falls in. Otherwise the caller computes the checksum itself (an ordinary frame) or sends the unit as
/// ordinary frames (TSO); see `tx`.
///
/// Cost: one walk over the chain's mbuf headers, only on such ports.
pub fn tx_csum_offload_safe(chain: &Pkt, start: usize, wire: usize) -> bool {
    let (len, mut end) = (chain.len(), 0);
    chain.segments().all(|seg| {
        end += seg.len();
        end <= start || end >= len || ((end - start) % wire).is_multiple_of(2)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::{DEFAULT_DATA_ROOM, Mempool};
    use crate::rand::Rng;
    use crate::wire::{Checksum, checksum};

    /// What DPDK 22.11's net_tap computes over `pieces`: each one summed from its own first
    /// byte as whole 16-bit words (`__rte_raw_cksum`; the ones'-complement sum does not depend
    /// on byte order, so the big-endian [`checksum::sum`] models it).
    fn tap_sum(pieces: &[&[u8]]) -> u16 {
        checksum::fold(
            pieces
                .iter()
                .map(|p| u64::from(checksum::sum(p, 0)))
                .sum::<u64>(),
        )
    }

    /// The right sum over `pieces`, as one byte stream.
    fn right_sum(pieces: &[&[u8]]) -> u16 {
        let mut c = Checksum::new();
        pieces.iter().for_each(|p| {
            c.add(p);
        });
        c.sum()
    }

    /// The pieces of `chain` between byte offsets `from` and `to`, cut at its segments.
    fn pieces(chain: &Pkt, from: usize, to: usize) -> Vec<&[u8]> {
        let mut pos = 0;
        let mut out = Vec::new();
        for seg in chain.segments() {
            let (s, e) = (from.max(pos), to.min(pos + seg.len()));
            if s < e {
                out.push(&seg[s - pos..e - pos]);
            }
            pos += seg.len();
        }
        out
    }

    /// The rule holds exactly where net_tap's per-segment sum is right: for ordinary frames
    /// (summed from the TCP header on) and for each wire segment of a TSO frame (its pieces
    /// cut where the payload's segments and the wire segments end, as `gso_do_segment` does).
    #[test]
    fn odd_chain_rule_predicts_where_a_per_segment_sum_is_wrong() {
        crate::eal::init_for_tests();
        let pool = Mempool::create("tcsum", 255, 0, DEFAULT_DATA_ROOM).expect("pool");
        let mut rng = Rng::new(0x2211);
        let (mut unsafe_frames, mut wrong_frames) = (0, 0);
        let (mut unsafe_tso, mut wrong_tso) = (0, 0);
        for _ in 0..3000 {
            let segs = 1 + rng.below(6) as usize;
            let mut chain: Option<Pkt> = None;
            for _ in 0..segs {
                let mut data = vec![0u8; 1 + rng.below(700) as usize];
                rng.fill(&mut data);
                let seg = Pkt::from_slice(&pool, &data).expect("mbuf");
                match chain.as_mut() {
                    None => chain = Some(seg),
                    Some(c) => assert!(c.chain(seg).is_ok()),
                }
            }
            let chain = chain.expect("a segment");
            let len = chain.len();

            // An ordinary frame: the checksum covers everything from `start` on.
            let start = (rng.below(chain.data().len() as u64) as usize).min(54);
            let p = pieces(&chain, start, len);
            let wrong = tap_sum(&p) != right_sum(&p);
            if tx_csum_offload_safe(&chain, start, usize::MAX) {
                assert!(!wrong, "safe by the rule, yet summed wrongly: {p:?}");
            } else {
                unsafe_frames += 1;
                wrong_frames += usize::from(wrong);
            }

            // The chain as a TSO payload cut into `wire`-byte wire segments.
            let wire = 1 + rng.below(len as u64) as usize;
            let wrong = (0..len).step_by(wire).any(|at| {
                let p = pieces(&chain, at, (at + wire).min(len));
                tap_sum(&p) != right_sum(&p)
            });
            if tx_csum_offload_safe(&chain, 0, wire) {
                assert!(
                    !wrong,
                    "safe by the rule, yet a wire segment was summed wrongly"
                );
            } else {
                unsafe_tso += 1;
                wrong_tso += usize::from(wrong);
            }
        }
        // The rule is not merely cautious: where it says no, the sum is (almost always) wrong.
        assert!(unsafe_frames > 500 && wrong_frames * 100 >= unsafe_frames * 99);
        assert!(unsafe_tso > 500 && wrong_tso * 100 >= unsafe_tso * 99);
    }
}
