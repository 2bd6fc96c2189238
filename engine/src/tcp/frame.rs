//! Turning a TCP segment into a frame: Ethernet, IPv4 and TCP headers in front of a clone of
//! the queued payload (ARCHITECTURE decision 5), with the port's offloads (decision 6).
//!
//! Two ways to build a data frame, chosen per frame:
//! - *header in headroom*: when the port copies frames on transmit (`tx_copies`: tap,
//!   af_packet, memif), the frame is not a TSO super-segment (see `send`) and the payload's
//!   first mbuf is direct with refcount 1, the headers go into that mbuf's headroom through
//!   an indirect clone (one extra reference; Linux's `skb_clone` case);
//! - *header mbuf*: otherwise (net_ring hands the very mbuf to the peer; NICs hold it until
//!   DMA completes) a small header mbuf is chained to an indirect clone of the payload
//!   (Linux's `pskb_copy` case). Frames waiting for ARP always take this form.
//!
//! - *copy-break*: a payload of at most [`TX_COPYBREAK`] bytes is copied into the header mbuf
//!   (one mbuf, no indirect clone), cheaper than either of the above for small segments.
//!
//! The queued payload itself never leaves the send queue and is never modified.
//!
//! Checksums: with offload, the IPv4 checksum is left to the port and the TCP checksum field
//! holds the pseudo-header sum (without the length for TSO, as DPDK requires); without, both
//! are computed here over all segments. On a port whose offload gets chains with odd-length
//! segments wrong (`DeviceCaps::tx_cksum_odd_chain_bug`, net_tap), such a frame takes the
//! software TCP checksum and such a TSO frame goes out as ordinary frames: see
//! [`tx_csum_offload_safe`] and [`send_tso_as_frames`].

use super::counters::TcpCounters;
use super::flow::FourTuple;
use super::layer::Out;
use super::template::{HeaderTemplate, ipv4_repr};
use crate::buf::{Pkt, TxOffload};
use crate::iface::Route;
use crate::wire::{
    Checksum, EtherType, EthernetRepr, Ipv4Packet, MacAddr, TcpFlags, TcpPacket, TcpRepr, checksum,
};

const ETH: usize = 14;
const IP: usize = 20;

/// Payloads up to this size are copied into the header mbuf instead of being chained as an
/// indirect clone: copying 256 bytes costs less than allocating and attaching an indirect
/// mbuf, and the frame then shares nothing with the send queue (no refcount traffic between
/// the sender's core and whoever frees the frame, e.g. the peer core on net_ring).
pub const TX_COPYBREAK: usize = 256;

/// How many wire segments a payload of `len` bytes becomes at `segsz` (TSO).
fn wire_segments(len: usize, segsz: u16) -> u64 {
    len.div_ceil(usize::from(segsz.max(1))).max(1) as u64
}

/// Builds the frame for `repr` (+ `payload`, a whole queued unit) and queues it on the TX
/// batch, or on the ARP queue if the neighbour is not resolved yet. With `tso: Some(segsz)`
/// the payload goes out as one TSO frame cut into `segsz`-byte segments by the port (the
/// caller asks for it only when the port has TSO and the payload exceeds one MSS). With the
/// connection's header template (`tmpl`), the headers are copied from it and patched when
/// the segment's layout allows (see [`HeaderTemplate`]), else emitted field by field. Returns
/// false when the frame could not be built (no mbuf, no route); the caller treats that like a
/// loss.
pub fn send(
    out: &mut Out,
    c: &mut TcpCounters,
    tuple: &FourTuple,
    repr: &TcpRepr,
    payload: Option<&Pkt>,
    tso: Option<u16>,
    tmpl: Option<&mut HeaderTemplate>,
) -> bool {
    if let (Some(segsz), Some(p)) = (tso, payload)
        && out.caps.tx_cksum_odd_chain_bug
        && out.caps.tx.tso
        && segsz > 0
        && p.len() > usize::from(segsz)
        && !tx_csum_offload_safe(p, 0, usize::from(segsz))
    {
        return send_tso_as_frames(out, c, tuple, repr, p, segsz, tmpl);
    }
    match tmpl {
        Some(t) if tso.is_none() => match send_small(out, c, tuple, repr, payload, t) {
            Some(sent) => sent,
            None => send_general(out, c, tuple, repr, payload, tso, Some(t)),
        },
        t => send_general(out, c, tuple, repr, payload, tso, t),
    }
}

/// The common frame, straight through: a copy-break (or empty) payload behind headers from a
/// template already built for the cached route, in one fresh header mbuf. Preconditions: the
/// payload is at most [`TX_COPYBREAK`] bytes, the header fits the template
/// ([`HeaderTemplate::fits`]), the route cache resolves the peer and the template matches it.
/// `None`, with nothing done, when one does not hold: the caller takes [`send_general`],
/// which gives the same frame (and builds or rebuilds the template).
fn send_small(
    out: &mut Out,
    c: &mut TcpCounters,
    tuple: &FourTuple,
    repr: &TcpRepr,
    payload: Option<&Pkt>,
    t: &HeaderTemplate,
) -> Option<bool> {
    let plen = payload.map_or(0, Pkt::len);
    if plen > TX_COPYBREAK || !HeaderTemplate::fits(repr) {
        return None;
    }
    let dst_mac = out.iface.cached_route(out.now, tuple.remote_ip)?;
    let ts = repr.timestamps.is_some();
    if !t.matches(out.iface.mac, dst_mac, ts) {
        return None;
    }
    let hdr_len = HeaderTemplate::header_len(ts);
    let Some(mut frame) = Pkt::alloc(&out.pools.hdr) else {
        c.tx_nombuf += 1;
        return Some(false);
    };
    let buf = frame.append(hdr_len + plen)?;
    match payload {
        Some(p) if plen > 0 => {
            p.copy_out(0, &mut buf[hdr_len..]);
            c.tx_copybreak += 1;
        }
        _ => c.tx_hdr_mbuf += 1,
    }
    t.write(
        buf,
        repr,
        out.iface.next_ident(),
        ip_payload_len(hdr_len + plen),
    );
    let tcp_len = hdr_len - ETH - IP;
    finish_and_queue(
        out,
        c,
        frame,
        tuple,
        tcp_len,
        plen,
        0,
        Route::Resolved(dst_mac),
    );
    Some(true)
}

/// Every frame: any route state, payload form, option layout and TSO.
fn send_general(
    out: &mut Out,
    c: &mut TcpCounters,
    tuple: &FourTuple,
    repr: &TcpRepr,
    payload: Option<&Pkt>,
    tso: Option<u16>,
    tmpl: Option<&mut HeaderTemplate>,
) -> bool {
    let route = out.iface.route(out.now, tuple.remote_ip, out.pools, out.tx);
    let dst_mac = match route {
        Route::Resolved(m) => m,
        Route::Pending(_) => MacAddr::ZERO,
        Route::NoRoute => return false,
    };
    let resolved = matches!(route, Route::Resolved(_));
    let tmpl = tmpl.filter(|_| resolved && HeaderTemplate::fits(repr));
    let ts = repr.timestamps.is_some();
    let tcp_len = match tmpl {
        Some(_) => HeaderTemplate::header_len(ts) - ETH - IP,
        None => repr.header_len(),
    };
    let hdr_len = ETH + IP + tcp_len;
    let plen = payload.map_or(0, Pkt::len);
    let segsz = tso.filter(|_| out.caps.tx.tso).unwrap_or(0);
    let tso = segsz > 0 && plen > usize::from(segsz);
    // A TSO frame must start with a direct mbuf: net_tap's software TSO (DPDK 22.11
    // `rte_gso_segment`) copies the head's `ol_flags`, INDIRECT bit included, into the header
    // mbufs it allocates, and freeing those then returns them to its pool twice.
    let headroom_ok = resolved && out.caps.tx_copies && !tso;
    let Some(mut frame) = build_frame(out, c, hdr_len, payload, headroom_ok) else {
        c.tx_nombuf += 1;
        return false;
    };
    // SAFETY: the first hdr_len bytes of this frame are its own header bytes: a fresh header
    // mbuf, or the reserved headroom of a clone_into_headroom frame.
    let head = unsafe { frame.head_mut() };
    let ip_payload = ip_payload_len(hdr_len + plen);
    match tmpl {
        Some(t) => {
            let src = out.iface.mac;
            if !t.matches(src, dst_mac, ts) {
                t.build(src, dst_mac, tuple, ts);
            }
            t.write(head, repr, out.iface.next_ident(), ip_payload);
        }
        None => write_headers(head, out, tuple, repr, dst_mac, ip_payload),
    }
    let segsz = if tso { segsz } else { 0 };
    finish_and_queue(out, c, frame, tuple, tcp_len, plen, segsz, route);
    true
}

/// Checksums (or their offload), counters, and the frame onto the TX batch, or onto the ARP
/// queue while `route` is pending. `segsz` is the TSO segment size, 0 for an ordinary frame.
#[allow(clippy::too_many_arguments)]
fn finish_and_queue(
    out: &mut Out,
    c: &mut TcpCounters,
    mut frame: Pkt,
    tuple: &FourTuple,
    tcp_len: usize,
    plen: usize,
    segsz: u16,
    route: Route,
) {
    let tso = segsz > 0;
    let flags = finish_checksums(&mut frame, out, c, tuple, tcp_len, plen, tso);
    if flags != 0 {
        frame.set_ol_flags(flags);
        frame.set_tx_offload(TxOffload {
            l2_len: ETH as u8,
            l3_len: IP as u16,
            l4_len: tcp_len as u8,
            tso_segsz: segsz,
        });
    }
    let segs = if tso { wire_segments(plen, segsz) } else { 1 };
    // The port numbers a TSO frame's wire segments with consecutive IP identifications from
    // the frame's own (DPDK GSO, as Linux's `ip_select_ident_segs`): reserve them, or the next
    // frames would reuse them.
    out.iface.reserve_idents(segs - 1);
    c.out_segs += segs;
    if tso {
        c.tso_frames += 1;
        c.tso_wire_segs += segs;
    }
    out.iface.counters.ip_out_requests += segs;
    match route {
        Route::Pending(hop) => out
            .iface
            .send_unresolved(out.now, hop, frame, out.pools, out.tx),
        _ => out.tx.push(frame),
    }
}

/// The IPv4 payload length of a frame of `frame_len` bytes (the field saturates).
fn ip_payload_len(frame_len: usize) -> u16 {
    (frame_len - ETH - IP).min(usize::from(u16::MAX) - IP) as u16
}

/// The frame's mbufs with `hdr_len` bytes reserved for the headers: in the payload's headroom
/// when `headroom_ok` allows it, else a header mbuf (counted by form). `None` when out of
/// mbufs.
fn build_frame(
    out: &Out,
    c: &mut TcpCounters,
    hdr_len: usize,
    payload: Option<&Pkt>,
    headroom_ok: bool,
) -> Option<Pkt> {
    if let Some(p) = payload
        && headroom_ok
        && p.len() > TX_COPYBREAK
        && p.max_data_refcnt() == 1
    {
        // SAFETY: the port copies on transmit (tx_copies) and no other clone of this
        // payload is in flight (refcount 1), so its headroom is ours for this frame.
        if let Some(f) = unsafe { p.clone_into_headroom(&out.pools.indirect, hdr_len) } {
            c.tx_in_headroom += 1;
            return Some(f);
        }
    }
    let (f, copied) = header_mbuf(out, hdr_len, payload)?;
    if copied {
        c.tx_copybreak += 1;
    } else {
        c.tx_hdr_mbuf += 1;
    }
    Some(f)
}

/// A header mbuf with room for the headers, followed by the payload: copied into it when
/// small (returns true), else chained as an indirect clone.
fn header_mbuf(out: &Out, hdr_len: usize, payload: Option<&Pkt>) -> Option<(Pkt, bool)> {
    let mut h = Pkt::alloc(&out.pools.hdr)?;
    let Some(p) = payload.filter(|p| !p.is_empty()) else {
        h.append(hdr_len)?;
        return Some((h, false));
    };
    if p.len() <= TX_COPYBREAK && h.tailroom() >= hdr_len + p.len() {
        let buf = h.append(hdr_len + p.len())?;
        p.copy_out(0, &mut buf[hdr_len..]);
        return Some((h, true));
    }
    h.append(hdr_len)?;
    let c = p.clone_range(&out.pools.indirect, 0, p.len())?;
    h.chain(c).ok()?;
    Some((h, false))
}

/// Writes Ethernet, IPv4 (checksum left zero) and TCP (checksum zero) headers into `head`.
fn write_headers(
    head: &mut [u8],
    out: &mut Out,
    tuple: &FourTuple,
    repr: &TcpRepr,
    dst_mac: MacAddr,
    ip_payload: u16,
) {
    EthernetRepr {
        src: out.iface.mac,
        dst: dst_mac,
        ethertype: EtherType::Ipv4,
    }
    .emit(&mut head[..ETH]);
    let ip = ipv4_repr(tuple, ip_payload, out.iface.next_ident());
    ip.emit(&mut head[ETH..ETH + IP], false);
    repr.emit(&mut head[ETH + IP..]);
}

/// Fills the checksums (or prepares them for offload) and returns the `ol_flags` to set.
fn finish_checksums(
    frame: &mut Pkt,
    out: &Out,
    c: &mut TcpCounters,
    tuple: &FourTuple,
    tcp_len: usize,
    plen: usize,
    tso: bool,
) -> u64 {
    let tx = out.caps.tx;
    let mut flags = 0u64;
    if out.caps.trusted {
        // Nothing between here and the peer can alter the frame (in-process ring): no
        // checksums, as Linux skips them on loopback.
        return 0;
    }
    // A TSO frame the port would get wrong does not come here (`send`).
    let odd_chain = out.caps.tx_cksum_odd_chain_bug
        && !tso
        && tx.tcp_cksum
        && !tx_csum_offload_safe(frame, ETH + IP, usize::MAX);
    c.tx_csum_odd_chain += u64::from(odd_chain);
    // SAFETY: as in `send`: the header bytes belong to this frame alone.
    let head = unsafe { frame.head_mut() };
    if tx.ipv4_cksum {
        flags |= dpdk_sys::RTE_MBUF_F_TX_IPV4 | dpdk_sys::RTE_MBUF_F_TX_IP_CKSUM;
    } else {
        Ipv4Packet::new_unchecked(&mut head[ETH..ETH + IP]).fill_checksum();
    }
    let l4 = (tcp_len + plen) as u32;
    if tso || (tx.tcp_cksum && !odd_chain) {
        // The port completes the checksum from the pseudo-header sum; for TSO the length is
        // left out, since each wire segment has its own (DPDK rte_ipv4_phdr_cksum rule).
        let len = if tso { 0 } else { l4 };
        let ph = checksum::fold(checksum::pseudo_header(
            tuple.local_ip,
            tuple.remote_ip,
            6,
            len,
        ));
        TcpPacket::new_unchecked(&mut head[ETH + IP..]).set_checksum(ph);
        flags |= dpdk_sys::RTE_MBUF_F_TX_IPV4 | dpdk_sys::RTE_MBUF_F_TX_TCP_CKSUM;
        if tso {
            flags |= dpdk_sys::RTE_MBUF_F_TX_TCP_SEG;
        }
        return flags;
    }
    let mut sum = Checksum::with_sum(checksum::pseudo_header(
        tuple.local_ip,
        tuple.remote_ip,
        6,
        l4,
    ));
    let mut skip = ETH + IP;
    for seg in frame.segments() {
        if skip >= seg.len() {
            skip -= seg.len();
            continue;
        }
        sum.add(&seg[skip..]);
        skip = 0;
    }
    let sum = sum.finish();
    // SAFETY: as above.
    let head = unsafe { frame.head_mut() };
    TcpPacket::new_unchecked(&mut head[ETH + IP..]).set_checksum(sum);
    flags
}

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
/// it falls in. Otherwise the caller computes the checksum itself (an ordinary frame:
/// `finish_checksums`) or sends the unit as ordinary frames (TSO: `send_tso_as_frames`).
///
/// Cost: one walk over the chain's mbuf headers, only on such ports.
pub fn tx_csum_offload_safe(chain: &Pkt, start: usize, wire: usize) -> bool {
    let (len, mut end) = (chain.len(), 0);
    chain.segments().all(|seg| {
        end += seg.len();
        end <= start || end >= len || ((end - start) % wire).is_multiple_of(2)
    })
}

/// Sends `payload`, a unit that would leave as one TSO frame of `segsz`-byte wire segments,
/// as those wire segments themselves: ordinary frames with the same sequence numbers, PSH and
/// FIN on the last one only, consecutive IP identifications, each taking the checksum offload
/// or the software checksum by [`tx_csum_offload_safe`]. For ports whose TSO would checksum
/// the pieces wrongly (`DeviceCaps::tx_cksum_odd_chain_bug`); false as [`send`].
///
/// Cost, against net_tap's own TSO (which is software too): per wire segment the same header
/// mbuf, indirect clones and checksum pass that `rte_gso_segment` and `tap_write_mbufs` would
/// spend, one more set of indirect clones (the piece handed to [`send`], freed at once) and a
/// run of the frame builder. The payload is never copied. (Copying the unit into even-sized
/// mbufs would keep TSO but copy up to 64 KiB per frame and per retransmission.)
fn send_tso_as_frames(
    out: &mut Out,
    c: &mut TcpCounters,
    tuple: &FourTuple,
    repr: &TcpRepr,
    payload: &Pkt,
    segsz: u16,
    mut tmpl: Option<&mut HeaderTemplate>,
) -> bool {
    c.tso_odd_chain_split += 1;
    let (len, step) = (payload.len(), usize::from(segsz));
    let mut off = 0;
    while off < len {
        let n = step.min(len - off);
        let mut r = *repr;
        r.seq = repr.seq + off as u32;
        if off + n < len {
            r.flags.remove(TcpFlags::PSH | TcpFlags::FIN);
        }
        let Some(piece) = payload.clone_range(&out.pools.indirect, off, n) else {
            c.tx_nombuf += 1;
            return false;
        };
        if !send(out, c, tuple, &r, Some(&piece), None, tmpl.as_deref_mut()) {
            return false;
        }
        off += n;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::{DEFAULT_DATA_ROOM, Mempool};
    use crate::rand::Rng;

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
