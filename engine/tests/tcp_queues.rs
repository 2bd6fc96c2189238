//! The TCP send queue (write queue with `send_head`, scoreboard) and receive queue (zero-copy
//! in-order data, out-of-order reassembly, SACK/D-SACK blocks) on real DPDK mbufs.

use engine::buf::{DEFAULT_DATA_ROOM, HDR_DATA_ROOM, Mempool, Pkt};
use engine::eal;
use engine::rand::Rng;
use engine::tcp::recv_queue::{RecvLimits, RecvQueue};
use engine::tcp::send_queue::{SegFlags, SendQueue};
use engine::time::Instant;
use engine::wire::{SackBlocks, SeqNum};

const MSS: usize = 1448;
const TSO: usize = 64 * 1024;

/// A payload pool and an indirect (data-less) pool.
fn pools(name: &str, count: u32) -> (Mempool, Mempool) {
    eal::init_for_tests();
    let data = Mempool::create(&format!("{name}d"), count, 0, DEFAULT_DATA_ROOM).expect("pool");
    let ind = Mempool::create(&format!("{name}i"), count, 0, 0).expect("pool");
    (data, ind)
}

fn pattern(n: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0; n];
    Rng::new(seed).fill(&mut v);
    v
}

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

// ---- send queue helpers ----

/// Every queued payload byte, in order.
fn queued(q: &SendQueue) -> Vec<u8> {
    let mut v = Vec::new();
    for u in q.iter() {
        for seg in u.pkt.iter().flat_map(Pkt::segments) {
            v.extend_from_slice(seg);
        }
    }
    v
}

/// Recomputes every sum and counter by walking the units and compares with the queue's.
fn check_send(q: &SendQueue) {
    let (mut lost, mut sacked, mut retrans) = (0u32, 0u32, 0u32);
    let (mut bytes, mut sent_bytes, mut mbufs) = (0usize, 0usize, 0usize);
    let mut seq = q.head_seq();
    let head = q.send_head().unwrap_or(q.len());
    for (i, u) in q.iter().enumerate() {
        assert_eq!(u.seq, seq, "unit {i} contiguous");
        assert_eq!(
            u.len as usize,
            u.pkt.as_ref().map_or(0, Pkt::len),
            "unit {i} len"
        );
        assert!(u.len > 0 || u.fin, "unit {i} is not empty");
        assert!(!u.fin || i + 1 == q.len(), "FIN only on the last unit");
        let n = u.space();
        let f = u.flags;
        assert!(
            i < head || f == SegFlags::empty(),
            "unsent unit {i} has no marks"
        );
        assert!(!(f.contains(SegFlags::SACKED) && f.contains(SegFlags::LOST)));
        lost += if f.contains(SegFlags::LOST) { n } else { 0 };
        sacked += if f.contains(SegFlags::SACKED) { n } else { 0 };
        retrans += if f.contains(SegFlags::RETRANS) { n } else { 0 };
        bytes += u.len as usize;
        sent_bytes += if i < head { u.len as usize } else { 0 };
        mbufs += u.pkt.as_ref().map_or(0, Pkt::nb_segs);
        seq = u.end();
    }
    assert_eq!(seq, q.write_seq());
    assert_eq!(q.sent_end(), q.get(head).map_or(q.write_seq(), |u| u.seq));
    assert_eq!(
        (q.lost_bytes(), q.sacked_bytes(), q.retrans_bytes()),
        (lost, sacked, retrans)
    );
    assert_eq!(
        (q.bytes(), q.sent_bytes(), q.mbufs()),
        (bytes, sent_bytes, mbufs)
    );
    assert_eq!(q.unsent_bytes(), bytes - sent_bytes);
    let out = i64::from(q.sent_end() - q.head_seq());
    let pipe = out - i64::from(sacked) - i64::from(lost) + i64::from(retrans);
    assert_eq!(i64::from(q.in_flight(q.sent_end())), pipe.max(0));
}

fn send_all(q: &mut SendQueue, now: Instant) {
    while q.advance_send_head(now) {}
}

#[test]
fn send_append_cuts_units_at_size_goal() {
    let (pool, _) = pools("sqa", 1023);
    let src = pattern(200_000, 1);
    for goal in [MSS, TSO] {
        let start = SeqNum(u32::MAX - 5000);
        let mut q = SendQueue::new(start);
        assert_eq!(q.append(&src[..10_000], goal, &pool, &pool), 10_000);
        assert_eq!(q.append(&src[10_000..], goal, &pool, &pool), 190_000);
        check_send(&q);
        assert_eq!(q.write_seq(), start + 200_000);
        assert_eq!(
            q.len(),
            200_000usize.div_ceil(goal),
            "the tail was filled up first"
        );
        assert!(q.iter().all(|u| u.len as usize <= goal));
        assert_eq!(queued(&q), src);
        let head = q.get(0).and_then(|u| u.pkt.as_ref()).expect("unit");
        assert!(
            head.headroom() >= 64,
            "headers fit in front: {}",
            head.headroom()
        );
        assert_eq!(q.send_head(), Some(0));
        drop(q);
        assert_eq!(pool.in_use(), 0);
    }
}

#[test]
fn send_append_fills_only_an_unsent_tail() {
    let (pool, _) = pools("sqt", 255);
    let mut q = SendQueue::new(SeqNum(1000));
    assert_eq!(q.append(&[1; 1000], MSS, &pool, &pool), 1000);
    assert!(q.advance_send_head(at(1)));
    assert_eq!(q.send_head(), None);
    assert_eq!(q.append(&[2; 500], MSS, &pool, &pool), 500);
    assert_eq!(q.len(), 2, "a sent unit never grows");
    assert_eq!(q.get(0).map(|u| u.len), Some(1000));
    assert_eq!(q.send_head(), Some(1));
    assert_eq!(q.append(&[3; 2000], MSS, &pool, &pool), 2000);
    assert_eq!(q.len(), 3);
    assert_eq!(
        q.get(1).map(|u| u.len),
        Some(MSS as u32),
        "the unsent tail was topped up"
    );
    assert_eq!(q.get(2).map(|u| u.len), Some(500 + 2000 - MSS as u32));
    assert_eq!((q.sent_bytes(), q.unsent_bytes()), (1000, 2500));
    check_send(&q);
    let mut want = vec![1; 1000];
    want.extend([2; 500]);
    want.extend([3; 2000]);
    assert_eq!(queued(&q), want);
}

#[test]
fn a_small_write_takes_a_small_mbuf_and_grows_into_data_mbufs() {
    let (pool, _) = pools("sqs", 255);
    let small = Mempool::create("sqss", 255, 0, HDR_DATA_ROOM).expect("small pool");
    let mut q = SendQueue::new(SeqNum(0));
    // A 64-byte request: one small mbuf, no data mbuf.
    assert_eq!(q.append(&[1; 64], MSS, &pool, &small), 64);
    assert_eq!((small.in_use(), pool.in_use()), (1, 0));
    // The unsent tail grows (Nagle, cork): its chain continues in data mbufs.
    assert_eq!(q.append(&[2; 1000], MSS, &pool, &small), 1000);
    assert_eq!(q.len(), 1, "the tail unit was topped up");
    assert_eq!((small.in_use(), pool.in_use()), (1, 1));
    // A write that does not fit a small mbuf starts in a data mbuf.
    assert!(q.advance_send_head(at(1)));
    assert_eq!(q.append(&[3; 600], MSS, &pool, &small), 600);
    assert_eq!((small.in_use(), pool.in_use()), (1, 2));
    check_send(&q);
    let mut want = vec![1; 64];
    want.extend([2; 1000]);
    want.extend([3; 600]);
    assert_eq!(queued(&q), want);
    drop(q);
    assert_eq!((small.in_use(), pool.in_use()), (0, 0));
}

#[test]
fn send_fin_goes_on_an_unsent_tail_or_alone() {
    let (pool, _) = pools("sqf", 255);
    // On an unsent tail.
    let mut q = SendQueue::new(SeqNum(0));
    q.append(&[7; 100], MSS, &pool, &pool);
    q.push_fin();
    q.push_fin();
    assert_eq!((q.len(), q.write_seq()), (1, SeqNum(101)));
    assert!(q.get(0).is_some_and(|u| u.fin && u.end() == SeqNum(101)));
    assert_eq!(
        q.append(&[1; 10], MSS, &pool, &pool),
        0,
        "nothing after the FIN"
    );
    assert!(
        q.append_pkt(Pkt::from_slice(&pool, b"x").expect("alloc"), MSS, &pool)
            .is_err()
    );
    check_send(&q);
    drop(q);
    // After a sent tail: a FIN-only unit.
    let mut q = SendQueue::new(SeqNum(0));
    q.append(&[7; 100], MSS, &pool, &pool);
    send_all(&mut q, at(1));
    q.push_fin();
    assert_eq!(q.len(), 2);
    assert!(
        q.get(1)
            .is_some_and(|u| u.fin && u.len == 0 && u.pkt.is_none())
    );
    assert_eq!(q.send_head(), Some(1));
    check_send(&q);
    drop(q);
    // On an empty queue.
    let mut q = SendQueue::new(SeqNum(5));
    q.push_fin();
    assert_eq!((q.len(), q.write_seq(), q.bytes()), (1, SeqNum(6), 0));
    send_all(&mut q, at(2));
    let out = q.ack(SeqNum(6), at(3));
    assert!(out.fin_acked && out.acked_bytes == 1 && out.freed == 1);
    assert!(q.is_empty());
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn send_ack_frees_whole_units_and_trims_a_partial_head() {
    let (pool, _) = pools("sqk", 1023);
    let src = pattern(5000, 2);
    let start = SeqNum(u32::MAX - 100);
    let mut q = SendQueue::new(start);
    q.append(&src, MSS, &pool, &pool);
    q.push_fin();
    assert_eq!(q.len(), 4);
    assert!(q.advance_send_head(at(10)) && q.advance_send_head(at(20)));
    // Before the head, or nothing new: no change.
    assert_eq!(q.ack(start, at(30)).acked_bytes, 0);
    assert_eq!(q.ack(start - 10, at(30)).acked_bytes, 0);
    // Inside the first unit.
    let out = q.ack(start + 100, at(30));
    assert_eq!((out.acked_bytes, out.freed), (100, 0));
    assert_eq!(
        out.rtt_sent_at,
        Some(at(10)),
        "partial ACK of a TSO-like unit samples RTT"
    );
    assert_eq!(queued(&q), &src[100..]);
    assert_eq!(q.head_seq(), start + 100);
    check_send(&q);
    // Past the first unit, into the second.
    let out = q.ack(start + 2000, at(40));
    assert_eq!(
        (out.acked_bytes, out.freed, out.rtt_sent_at),
        (1900, 1, Some(at(20)))
    );
    assert_eq!(queued(&q), &src[2000..]);
    assert_eq!(q.send_head(), Some(1));
    check_send(&q);
    // Beyond what was sent: clamped to the sent units.
    let out = q.ack(start + 4000, at(50));
    assert_eq!((out.acked_bytes, out.freed), (2 * MSS as u32 - 2000, 1));
    assert_eq!(q.head_seq(), q.sent_end());
    assert_eq!(q.send_head(), Some(0));
    check_send(&q);
    send_all(&mut q, at(60));
    let out = q.ack(start + 5001, at(70));
    assert!(out.fin_acked);
    assert_eq!(out.acked_bytes, 5001 - 2 * MSS as u32);
    assert!(q.is_empty() && q.bytes() == 0 && q.mbufs() == 0);
    assert_eq!(q.head_seq(), start + 5001);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn send_ack_follows_karns_rule() {
    let (pool, _) = pools("sqr", 255);
    let mut q = SendQueue::new(SeqNum(0));
    q.append(&[0; 3 * MSS], MSS, &pool, &pool);
    for t in [10, 20, 30] {
        q.advance_send_head(at(t));
    }
    assert!(q.mark_lost(1));
    assert!(q.mark_retransmitted(1, at(40)));
    let u = q.get(1).expect("unit");
    assert!(u.flags.contains(SegFlags::RETRANS) && u.flags.contains(SegFlags::EVER_RETRANS));
    assert_eq!((u.tx_count, u.sent_at), (2, at(40)));
    check_send(&q);
    let out = q.ack(SeqNum(2 * MSS as u32), at(50));
    assert_eq!(
        out.rtt_sent_at,
        Some(at(10)),
        "the retransmitted unit gives no sample"
    );
    assert!(out.any_retransmitted);
    assert_eq!(out.freed, 2);
    let out = q.ack(SeqNum(3 * MSS as u32), at(60));
    assert_eq!(out.rtt_sent_at, Some(at(30)));
    assert!(!out.any_retransmitted);
    check_send(&q);
}

#[test]
fn send_split_keeps_bytes_sequence_and_marks() {
    let (pool, ind) = pools("sqs", 1023);
    let src = pattern(TSO, 3);
    let mut q = SendQueue::new(SeqNum(u32::MAX - 1000));
    q.append(&src, TSO, &pool, &pool);
    q.push_fin();
    assert_eq!(q.len(), 1);
    assert!(!q.split(0, 0, &ind) && !q.split(0, TSO as u32, &ind) && !q.split(1, 1, &ind));
    // An unsent unit: the window allows only part of it.
    assert!(q.split(0, MSS as u32, &ind));
    assert_eq!((q.len(), q.send_head()), (2, Some(0)));
    assert!(!q.get(0).expect("unit").fin && q.get(1).expect("unit").fin);
    q.advance_send_head(at(5));
    // A sent, lost unit: retransmit one MSS of it.
    q.advance_send_head(at(6));
    assert!(q.mark_lost(1));
    assert!(q.split(1, MSS as u32, &ind));
    assert_eq!((q.len(), q.send_head()), (3, None));
    let second = q.get(2).expect("unit");
    assert!(second.flags.contains(SegFlags::LOST) && second.fin);
    assert_eq!((second.sent_at, second.tx_count), (at(6), 1));
    check_send(&q);
    assert_eq!(queued(&q), src);
    assert_eq!(q.split_at_seq(q.head_seq() + 100, &ind), Some(1));
    assert_eq!(
        q.split_at_seq(q.head_seq() + 100, &ind),
        Some(1),
        "already a boundary"
    );
    assert_eq!(
        q.split_at_seq(q.write_seq() - 1, &ind),
        None,
        "the FIN cannot be split off"
    );
    assert_eq!(q.split_at_seq(q.write_seq(), &ind), None);
    check_send(&q);
    assert_eq!(queued(&q), src);
    send_all(&mut q, at(7));
    q.ack(q.write_seq(), at(8));
    assert_eq!((pool.in_use(), ind.in_use()), (0, 0));
}

#[test]
fn send_append_pkt_cuts_a_long_chain_without_copying() {
    let (pool, ind) = pools("sqp", 1023);
    let src = pattern(10_000, 4);
    let mut q = SendQueue::new(SeqNum(42));
    q.append(&src[..100], MSS, &pool, &pool);
    let pkt = Pkt::from_slice(&pool, &src[100..]).expect("alloc");
    let before = pool.in_use();
    q.append_pkt(pkt, MSS, &ind).expect("room");
    assert_eq!(pool.in_use(), before, "no payload mbuf allocated");
    assert_eq!(q.len(), 1 + 9900usize.div_ceil(MSS));
    assert_eq!(queued(&q), src);
    check_send(&q);
    // The tail (an indirect piece) still grows by copy.
    assert_eq!(q.append(&[9; 100], MSS, &pool, &pool), 100);
    check_send(&q);
    send_all(&mut q, at(1));
    q.ack(q.write_seq(), at(2));
    assert_eq!((pool.in_use(), ind.in_use()), (0, 0));
}

#[test]
fn send_scoreboard_stays_consistent_under_random_operations() {
    let (pool, ind) = pools("sqx", 4095);
    let src = pattern(1 << 16, 5);
    for seed in 0..8 {
        let mut rng = Rng::new(seed);
        let mut q = SendQueue::new(SeqNum(rng.next_u32()));
        let mut now = 0;
        for _ in 0..1500 {
            now += 1;
            random_send_step(&mut q, &mut rng, at(now), &src, (&pool, &ind));
            check_send(&q);
        }
        send_all(&mut q, at(now));
        let out = q.ack(q.write_seq(), at(now + 1));
        assert!(q.is_empty(), "{out:?}");
        assert_eq!((pool.in_use(), ind.in_use()), (0, 0));
    }
}

/// One random operation on the send queue, checking what can be checked locally.
fn random_send_step(
    q: &mut SendQueue,
    rng: &mut Rng,
    now: Instant,
    src: &[u8],
    (pool, ind): (&Mempool, &Mempool),
) {
    let sent = q.send_head().unwrap_or(q.len());
    let pick = |rng: &mut Rng| (sent > 0).then(|| rng.below(sent as u64) as usize);
    match rng.below(10) {
        0 | 1 if q.bytes() < 200_000 && !q.fin_queued() => {
            let n = rng.below(6000) as usize + 1;
            let goal = if rng.chance(0.5) { MSS } else { TSO };
            assert_eq!(q.append(&src[..n], goal, pool, pool), n);
        }
        2 => {
            for _ in 0..rng.below(4) {
                q.advance_send_head(now);
            }
        }
        3 => {
            if let Some(i) = pick(rng) {
                q.mark_lost(i);
            }
        }
        4 => {
            if let Some(i) = q.first_lost_from(0).or_else(|| pick(rng)) {
                let was_sacked = q.get(i).is_some_and(|u| u.flags.contains(SegFlags::SACKED));
                assert_eq!(q.mark_retransmitted(i, now), !was_sacked);
            }
        }
        5 => random_sack(q, rng, ind),
        6 => random_ack(q, rng, now),
        7 => {
            if let Some(i) = (!q.is_empty()).then(|| rng.below(q.len() as u64) as usize) {
                let len = q.get(i).map_or(0, |u| u.len);
                let at = rng.below(u64::from(len) + 1) as u32;
                let before = queued(q);
                assert_eq!(q.split(i, at, ind), at > 0 && at < len);
                assert_eq!(queued(q), before);
            }
        }
        8 if rng.chance(0.05) => {
            q.mark_all_lost();
            assert_eq!(q.retrans_bytes(), 0);
        }
        9 if rng.chance(0.01) => q.push_fin(),
        _ => {}
    }
}

fn random_sack(q: &mut SendQueue, rng: &mut Rng, ind: &Mempool) {
    let span = q.sent_end() - q.head_seq();
    let start = q.head_seq() - 100 + rng.below(u64::from(span) + 200) as u32;
    let end = start + rng.below(20_000) as u32;
    let (lo, hi) = (q.head_seq(), q.sent_end());
    // `sack_block` cuts units at the block's edges, clamped to the sent range; cutting first
    // (it is idempotent) lets the expected sum be read off the units.
    let (cs, ce) = (
        if start.gt(lo) { start } else { lo },
        if end.lt(hi) { end } else { hi },
    );
    if ce.gt(cs) {
        q.split_at_seq(cs, ind);
        q.split_at_seq(ce, ind);
    }
    let inside = |s: SeqNum, e: SeqNum| lo.le(s) && e.le(hi) && start.le(s) && e.le(end);
    let want: u32 = q
        .iter()
        .filter(|u| inside(u.seq, u.end()) && !u.flags.contains(SegFlags::SACKED))
        .map(|u| u.space())
        .sum();
    assert_eq!(q.sack_block(start, end, lo, ind).newly, want);
}

fn random_ack(q: &mut SendQueue, rng: &mut Rng, now: Instant) {
    let (head, span) = (q.head_seq(), q.sent_end() - q.head_seq());
    // Half the time exactly at the end of the head unit (the queue's fast path when it is
    // unmarked), else anywhere around the sent range.
    let ack = match q.get(0) {
        Some(u) if rng.below(2) == 0 && u.tx_count > 0 => u.end(),
        _ => head - 50 + rng.below(u64::from(span) + 100) as u32,
    };
    let target = if ack.gt(head) {
        head + (ack - head).min(span)
    } else {
        head
    };
    let mut rtt = None;
    let mut freed = 0;
    for u in q.iter().filter(|u| u.seq.lt(target)) {
        freed += u32::from(u.end().le(target));
        if !u.flags.contains(SegFlags::EVER_RETRANS) {
            rtt = Some(u.sent_at);
        }
    }
    let out = q.ack(ack, now);
    assert_eq!((out.acked_bytes, out.freed), (target - head, freed));
    assert_eq!(out.rtt_sent_at, rtt);
    assert_eq!(q.head_seq(), target);
}

// ---- receive queue helpers ----

const BIG: RecvLimits = RecvLimits {
    max_ooo_segs: 10_000,
    max_bytes: 1 << 24,
};

fn rq_read_all(q: &mut RecvQueue) -> Vec<u8> {
    let mut v = vec![0; q.bytes()];
    assert_eq!(q.read(&mut v), v.len());
    v
}

fn seg(pool: &Mempool, data: &[u8]) -> Pkt {
    Pkt::from_slice(pool, data).expect("alloc")
}

#[test]
fn recv_in_order_segments_advance_and_read_back() {
    let (pool, _) = pools("rqi", 255);
    let src = pattern(10_000, 6);
    let mut q = RecvQueue::new();
    let mut nxt = SeqNum(u32::MAX - 3000);
    for chunk in src.chunks(MSS) {
        let r = q.insert(nxt, nxt, seg(&pool, chunk), &BIG);
        assert_eq!(
            (r.advanced as usize, r.dup, r.ooo, r.dropped),
            (chunk.len(), None, false, 0)
        );
        nxt += r.advanced;
    }
    assert_eq!(q.bytes(), src.len());
    assert!(q.mbufs() >= src.len() / 2048);
    assert_eq!(rq_read_all(&mut q), src);
    assert!(q.is_empty() && q.mbufs() == 0);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn recv_reassembles_random_permutations_with_overlaps_and_duplicates() {
    let (pool, _) = pools("rqp", 4095);
    for seed in 0..10 {
        assert_eq!(
            reassemble_one(&pool, seed, &BIG, 200),
            (1, 0),
            "one pass, no drop"
        );
        assert_eq!(pool.in_use(), 0);
    }
}

#[test]
fn recv_reassembles_under_tight_limits() {
    let (pool, _) = pools("rql", 4095);
    let limits = RecvLimits {
        max_ooo_segs: 6,
        max_bytes: 12_000,
    };
    for seed in 100..104 {
        let (rounds, dropped) = reassemble_one(&pool, seed, &limits, 200);
        assert!(rounds > 1 && dropped > 0, "the limits were hit");
        assert_eq!(pool.in_use(), 0);
    }
}

/// Segments `[a, b)` of a stream: consecutive pieces, widened by random overlaps, plus copies.
fn random_segments(rng: &mut Rng, n: usize, total: usize) -> Vec<(usize, usize)> {
    let mut cuts: Vec<usize> = (0..n - 1)
        .map(|_| rng.below(total as u64) as usize)
        .collect();
    cuts.extend([0, total]);
    cuts.sort_unstable();
    let mut segs = vec![];
    for w in cuts.windows(2) {
        let a = w[0].saturating_sub(rng.below(400) as usize);
        let b = (w[1] + rng.below(400) as usize).min(total);
        segs.push((a, b.max(a + 1).min(total)));
    }
    for _ in 0..n / 10 {
        let k = rng.below(segs.len() as u64) as usize;
        segs.push(segs[k]);
    }
    for i in (1..segs.len()).rev() {
        segs.swap(i, rng.below(i as u64 + 1) as usize);
    }
    segs
}

/// Delivers a shuffled, overlapping stream until every byte is in, reading as it goes, and
/// checks D-SACK, SACK blocks and limits after every segment against a byte-level model.
/// Returns (rounds, bytes dropped).
fn reassemble_one(pool: &Mempool, seed: u64, limits: &RecvLimits, n: usize) -> (usize, usize) {
    let mut rng = Rng::new(seed);
    let total = n * 700;
    let src = pattern(total, seed);
    let segs = random_segments(&mut rng, n, total);
    let isn = SeqNum(rng.next_u32());
    let mut q = RecvQueue::new();
    let mut have = vec![false; total];
    let (mut nxt, mut got) = (0usize, Vec::with_capacity(total));
    let mut buf = vec![0; 3000];
    let mut stats = (0, 0);
    for round in 0.. {
        if nxt == total {
            break;
        }
        assert!(round < 100, "seed {seed}: no progress");
        stats.0 += 1;
        for &(a, b) in &segs {
            if b <= nxt {
                continue;
            }
            let edge = nxt + limits.max_bytes - q.bytes();
            let r = q.insert(
                isn + nxt as u32,
                isn + a as u32,
                seg(pool, &src[a..b]),
                limits,
            );
            let dup_expected = (a..b).any(|i| i < nxt || have[i]);
            assert_eq!(r.dup.is_some(), dup_expected, "seed {seed} [{a}, {b})");
            if let Some((s, e)) = r.dup {
                let (s, e) = ((s - isn) as usize, (e - isn) as usize);
                assert!(a <= s && s < e && e <= b && (s..e).all(|i| i < nxt || have[i]));
            }
            let fresh = mark_stored(&mut have, (nxt, edge), (a, b), r.dropped as usize);
            assert_eq!(r.ooo, fresh && a > nxt, "seed {seed} [{a}, {b}) {r:?}");
            assert_eq!(
                r.advanced > 0,
                fresh && a <= nxt,
                "seed {seed} [{a}, {b}) {r:?}"
            );
            assert!(have[nxt..nxt + r.advanced as usize].iter().all(|&h| h));
            nxt += r.advanced as usize;
            stats.1 += r.dropped as usize;
            assert!(q.bytes() + q.ooo_bytes() <= limits.max_bytes);
            assert!(q.ooo_segs() <= limits.max_ooo_segs);
            // Nothing is held past the window edge, so the model is scanned only up to it.
            let window = &have[nxt..(nxt + limits.max_bytes).min(total)];
            assert_eq!(window.iter().filter(|&&h| h).count(), q.ooo_bytes());
            check_sack(
                &q,
                isn + nxt as u32,
                window,
                r.ooo.then(|| (a - nxt, b - nxt)),
            );
            let want = rng.below(buf.len() as u64) as usize;
            let k = q.read(&mut buf[..want]);
            got.extend_from_slice(&buf[..k]);
        }
    }
    got.extend(rq_read_all(&mut q));
    assert_eq!(got, src, "seed {seed}: byte-identical");
    assert_eq!((q.ooo_bytes(), q.ooo_segs(), q.mbufs()), (0, 0, 0));
    stats
}

/// Updates the model of held bytes: the part of `[a, b)` between rcv.nxt and the window edge
/// is held, unless the whole piece was refused (more dropped than the edge explains). Returns
/// whether bytes not held before were stored.
fn mark_stored(
    have: &mut [bool],
    (nxt, edge): (usize, usize),
    (a, b): (usize, usize),
    dropped: usize,
) -> bool {
    let lo = a.max(nxt);
    let hi = b.min(edge.max(lo));
    let cut = b - hi;
    assert!(
        dropped >= cut,
        "the edge trims [{hi}, {b}), dropped {dropped}"
    );
    let fresh = dropped == cut && have[lo..hi].iter().any(|&h| !h);
    if dropped == cut {
        have[lo..hi].iter_mut().for_each(|h| *h = true);
    }
    fresh
}

/// The SACK blocks are the maximal runs of held out-of-order data (`window[k]` is byte
/// `nxt + k`), the one holding the newest segment first.
fn check_sack(q: &RecvQueue, nxt: SeqNum, window: &[bool], recent: Option<(usize, usize)>) {
    let mut blocks = SackBlocks::new();
    q.sack_blocks(None, &mut blocks);
    let starts = |w: &[bool]| w[1] && !w[0];
    let runs = window.windows(2).filter(|w| starts(w)).count();
    assert!(window.first() != Some(&true), "rcv.nxt is a hole");
    assert_eq!(blocks.len(), runs.min(4));
    for (k, (s, e)) in blocks.iter().enumerate() {
        let (s, e) = ((s - nxt) as usize, (e - nxt) as usize);
        assert!(0 < s && s < e && e <= window.len(), "block {k} [{s}, {e})");
        assert!(window[s..e].iter().all(|&h| h), "block {k} held");
        assert!(
            !window[s - 1] && window.get(e) != Some(&true),
            "block {k} maximal"
        );
        if let Some((a, b)) = recent.filter(|_| k == 0) {
            assert!(
                s < b && a < e,
                "first block [{s}, {e}) holds the newest [{a}, {b})"
            );
        }
    }
}

#[test]
fn recv_reports_duplicates_for_dsack() {
    let (pool, _) = pools("rqd", 255);
    let mut q = RecvQueue::new();
    let nxt = SeqNum(u32::MAX - 50);
    let r = q.insert(nxt, nxt, seg(&pool, &[1; 100]), &BIG);
    assert_eq!((r.advanced, r.dup), (100, None));
    let nxt = nxt + 100;
    // Entirely old: reported, nothing stored.
    let r = q.insert(nxt, nxt - 100, seg(&pool, &[1; 100]), &BIG);
    assert_eq!(
        (r.advanced, r.dup, r.ooo),
        (0, Some((nxt - 100, nxt)), false)
    );
    // Partly old: the old part is reported, the rest goes in order.
    let r = q.insert(nxt, nxt - 10, seg(&pool, &[2; 20]), &BIG);
    assert_eq!((r.advanced, r.dup), (10, Some((nxt - 10, nxt))));
    let nxt = nxt + 10;
    // Out of order twice: the second copy is a duplicate of [200, 300) above rcv.nxt, so the
    // block holding it comes second (RFC 2883 §4).
    q.insert(nxt, nxt + 100, seg(&pool, &[3; 100]), &BIG);
    q.insert(nxt, nxt + 300, seg(&pool, &[4; 100]), &BIG);
    let r = q.insert(nxt, nxt + 100, seg(&pool, &[3; 100]), &BIG);
    assert_eq!((r.dup, r.ooo), (Some((nxt + 100, nxt + 200)), false));
    let mut sack = SackBlocks::new();
    q.sack_blocks(r.dup, &mut sack);
    let want = [
        (nxt + 100, nxt + 200),
        (nxt + 100, nxt + 200),
        (nxt + 300, nxt + 400),
    ];
    assert_eq!(sack.as_slice(), &want);
    // Covering stored data and a hole: the first duplicated range is reported, the new
    // segment replaces the covered one and fills the hole.
    let r = q.insert(nxt, nxt + 50, seg(&pool, &[5; 250]), &BIG);
    assert_eq!((r.dup, r.ooo), (Some((nxt + 100, nxt + 200)), true));
    assert_eq!((q.ooo_segs(), q.ooo_bytes()), (2, 350));
    q.sack_blocks(None, &mut sack);
    assert_eq!(sack.as_slice(), &[(nxt + 50, nxt + 400)]);
    drop(q);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn recv_sack_blocks_put_the_most_recent_first() {
    let (pool, _) = pools("rqs", 255);
    let mut q = RecvQueue::new();
    let nxt = SeqNum(1 << 31);
    let mut sack = SackBlocks::new();
    let block = |a: u32, b: u32| (nxt + a, nxt + b);
    for k in [1, 3, 5, 7, 9] {
        let r = q.insert(nxt, nxt + k * 100, seg(&pool, &[k as u8; 100]), &BIG);
        assert!(r.ooo && r.advanced == 0);
    }
    q.sack_blocks(None, &mut sack);
    let want = [
        block(900, 1000),
        block(700, 800),
        block(500, 600),
        block(300, 400),
    ];
    assert_eq!(sack.as_slice(), &want);
    // Filling the hole between two runs joins them; the joined run is now the newest.
    q.insert(nxt, nxt + 200, seg(&pool, &[2; 100]), &BIG);
    q.sack_blocks(None, &mut sack);
    let want = [
        block(100, 400),
        block(900, 1000),
        block(700, 800),
        block(500, 600),
    ];
    assert_eq!(sack.as_slice(), &want);
    q.insert(nxt, nxt + 1000, seg(&pool, &[10; 100]), &BIG);
    q.sack_blocks(None, &mut sack);
    let want = [
        block(900, 1100),
        block(100, 400),
        block(700, 800),
        block(500, 600),
    ];
    assert_eq!(sack.as_slice(), &want);
    // Filling rcv.nxt releases the first run in order.
    let r = q.insert(nxt, nxt, seg(&pool, &[0; 100]), &BIG);
    assert_eq!((r.advanced, q.bytes(), q.ooo_bytes()), (400, 400, 400));
    q.sack_blocks(None, &mut sack);
    let nxt = nxt + 400;
    let want = [
        (nxt + 500, nxt + 700),
        (nxt + 300, nxt + 400),
        (nxt + 100, nxt + 200),
    ];
    assert_eq!(sack.as_slice(), &want);
    let mut data = vec![0; 400];
    assert_eq!(q.read(&mut data), 400);
    assert!(
        data.chunks(100)
            .enumerate()
            .all(|(k, c)| c.iter().all(|&b| b == k as u8))
    );
}

#[test]
fn recv_limits_bound_segments_and_bytes() {
    let (pool, _) = pools("rqm", 255);
    let limits = RecvLimits {
        max_ooo_segs: 2,
        max_bytes: 1000,
    };
    let mut q = RecvQueue::new();
    let nxt = SeqNum(7);
    assert!(q.insert(nxt, nxt + 100, seg(&pool, &[1; 100]), &limits).ooo);
    assert!(q.insert(nxt, nxt + 300, seg(&pool, &[1; 100]), &limits).ooo);
    let r = q.insert(nxt, nxt + 500, seg(&pool, &[1; 100]), &limits);
    assert_eq!(
        (r.ooo, r.dropped, q.ooo_segs()),
        (false, 100, 2),
        "segment limit"
    );
    // Merging into a run does not need a new slot only if it replaces one; here it does.
    let r = q.insert(nxt, nxt + 900, seg(&pool, &[1; 300]), &limits);
    assert_eq!(
        (r.ooo, r.dropped),
        (false, 300),
        "200 beyond the edge, then no slot"
    );
    // In order: accepted up to the edge (1000 bytes held at most).
    let r = q.insert(nxt, nxt, seg(&pool, &[2; 1200]), &limits);
    assert_eq!((r.advanced, r.dropped), (1000, 200));
    assert_eq!((q.bytes(), q.ooo_bytes(), q.ooo_segs()), (1000, 0, 0));
    // The window is closed until the application reads.
    let nxt = nxt + 1000;
    let r = q.insert(nxt, nxt, seg(&pool, &[3; 10]), &limits);
    assert_eq!((r.advanced, r.dropped), (0, 10));
    assert_eq!(q.consume(600), 600);
    let r = q.insert(nxt, nxt, seg(&pool, &[3; 1000]), &limits);
    assert_eq!((r.advanced, r.dropped, q.bytes()), (600, 400, 1000));
    q.clear();
    assert_eq!((q.bytes(), q.mbufs()), (0, 0));
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn recv_read_peek_consume_and_take() {
    let (pool, _) = pools("rqr", 255);
    let src = pattern(6000, 7);
    let mut q = RecvQueue::new();
    let mut nxt = SeqNum(100);
    for chunk in src.chunks(1500) {
        nxt += q.insert(nxt, nxt, seg(&pool, chunk), &BIG).advanced;
    }
    let peeked: Vec<u8> = q.peek().flatten().copied().collect();
    assert_eq!(peeked, src);
    let mut buf = [0; 100];
    assert_eq!(q.read(&mut buf), 100);
    assert_eq!(&buf[..], &src[..100]);
    assert_eq!(q.consume(1450), 1450, "across a segment boundary");
    assert_eq!(q.bytes(), 4450);
    let first = q.take().expect("a chain");
    assert_eq!(first.len(), 1450);
    let mut v = vec![0; first.len()];
    first.copy_out(0, &mut v);
    assert_eq!(v, &src[1550..3000]);
    drop(first);
    assert_eq!(q.consume(10_000), 3000);
    assert!(q.is_empty() && q.take().is_none());
    assert_eq!((q.read(&mut buf), q.consume(5)), (0, 0));
    // Out-of-order data is dropped by prune (reneging) and by clear.
    q.insert(nxt, nxt + 10, seg(&pool, &[1; 100]), &BIG);
    q.insert(nxt, nxt + 500, seg(&pool, &[1; 100]), &BIG);
    assert_eq!(q.prune_ooo(), 200);
    let mut sack = SackBlocks::new();
    q.sack_blocks(None, &mut sack);
    assert!(sack.is_empty() && q.mbufs() == 0);
    q.insert(nxt, nxt + 10, seg(&pool, &[1; 100]), &BIG);
    q.insert(nxt, nxt, seg(&pool, &[1; 5]), &BIG);
    drop(q);
    assert_eq!(pool.in_use(), 0);
}
