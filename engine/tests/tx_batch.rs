//! `TxBatch` against the `Device` transmit contract: frames leave in order across partial
//! bursts (test devices and a real PMD, net_ring, whose ring fills up), the batch is bounded,
//! a stalled head is dropped after `TX_STALL_LIMIT` flushes and `TX_STALL_TIME`, a flush moves none of the frames
//! it leaves behind (so its cost does not grow with the backlog), and flushing allocates
//! nothing.

mod counting;

use std::collections::HashMap;

use engine::buf::{HEADROOM, Mempool, Pkt};
use engine::dev::dpdk::{Port, PortConfig};
use engine::dev::{Device, DeviceCaps, TX_STALL_LIMIT, TX_STALL_TIME, TxBatch, TxFrames};
use engine::eal;
use engine::time::Instant;
use engine::wire::MacAddr;

const MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
const NOW: Instant = Instant::ZERO;

fn pool(name: &str, count: u32) -> Mempool {
    eal::init_for_tests();
    Mempool::create(name, count, 0, (HEADROOM + 64) as u16).expect("pool")
}

/// A frame carrying its number.
fn tagged(pool: &Mempool, tag: u32) -> Pkt {
    Pkt::from_slice(pool, &tag.to_be_bytes()).expect("alloc")
}

fn tag(p: &Pkt) -> u32 {
    let mut b = [0u8; 4];
    assert_eq!(p.copy_out(0, &mut b), 4);
    u32::from_be_bytes(b)
}

/// A device with room for `room` more frames (like a TX ring that never drains): it takes
/// frames while it has room, logs their tags and frees them.
struct Taker {
    caps: DeviceCaps,
    room: usize,
    log: Vec<u32>,
    offers: u64,
}

impl Taker {
    fn new(room: usize) -> Taker {
        Taker {
            caps: DeviceCaps::software(MAC, 1500),
            room,
            log: Vec::with_capacity(1 << 16),
            offers: 0,
        }
    }
}

impl Device for Taker {
    fn caps(&self) -> &DeviceCaps {
        &self.caps
    }
    fn rx_burst(&mut self, _: Instant, _: &mut Vec<Pkt>, _: usize) -> usize {
        0
    }
    fn transmit(&mut self, _: Instant, frames: &mut TxFrames<'_>) {
        self.offers += 1;
        while self.room > 0 {
            let Some(p) = frames.take() else { break };
            self.room -= 1;
            self.log.push(tag(&p));
        }
    }
}

fn tags(batch: &TxBatch) -> Vec<u32> {
    batch.frames().map(tag).collect()
}

#[test]
fn frames_leave_in_order_across_partial_bursts_and_ring_wraps() {
    let p = pool("txb_order", 1023);
    let mut batch = TxBatch::with_capacity(8);
    let mut dev = Taker::new(0);
    let mut next = 0u32;
    let mut two_run_flushes = 0;
    // Pushes and partial flushes of every size, so the queued frames wrap around the ring's
    // end in every position; a device with room for the whole batch takes both runs of a
    // wrapped one in a single flush.
    for round in 0..200usize {
        for _ in 0..(round * 5) % 9 {
            if batch.room() > 0 {
                batch.push(tagged(&p, next));
                next += 1;
            }
        }
        dev.room = (round * 7) % 11;
        let (before, offers) = (batch.len(), dev.offers);
        let sent = batch.flush(NOW, &mut dev);
        assert_eq!(sent, before.min((round * 7) % 11), "round {round}");
        two_run_flushes += usize::from(dev.offers - offers == 2);
        assert_eq!(batch.len(), before - sent);
        let want: Vec<u32> = (next - batch.len() as u32..next).collect();
        assert_eq!(tags(&batch), want, "the rest stays, in order");
    }
    assert!(
        two_run_flushes > 0,
        "some flush took a wrapped batch in two offers"
    );
    dev.room = usize::MAX;
    batch.flush(NOW, &mut dev);
    assert!(batch.is_empty());
    assert_eq!(
        dev.log,
        (0..next).collect::<Vec<_>>(),
        "every frame once, in order"
    );
    assert_eq!(batch.dropped, 0);
    assert_eq!(p.in_use(), 0);
}

#[test]
fn pushing_beyond_capacity_drops_and_counts() {
    let p = pool("txb_cap", 255);
    let mut batch = TxBatch::with_capacity(4);
    for i in 0..6 {
        batch.push(tagged(&p, i));
    }
    assert_eq!((batch.len(), batch.room(), batch.dropped), (4, 0, 2));
    assert_eq!(tags(&batch), [0, 1, 2, 3], "the first four are kept");
    assert_eq!(p.in_use(), 4, "the dropped frames were freed");
    let mut dev = Taker::new(3);
    assert_eq!(batch.flush(NOW, &mut dev), 3);
    batch.push(tagged(&p, 6));
    batch.push(tagged(&p, 7));
    batch.push(tagged(&p, 8));
    batch.push(tagged(&p, 9));
    assert_eq!((batch.len(), batch.dropped), (4, 3));
    assert_eq!(tags(&batch), [3, 6, 7, 8]);
    drop(batch);
    assert_eq!(p.in_use(), 0);
}

#[test]
fn a_stalled_head_is_dropped_after_the_limit_and_progress_resets_the_count() {
    let p = pool("txb_stall", 255);
    let mut batch = TxBatch::with_capacity(16);
    for i in 0..4 {
        batch.push(tagged(&p, i));
    }
    let mut refuses = Taker::new(0);
    for _ in 0..TX_STALL_LIMIT - 1 {
        assert_eq!(batch.flush(NOW, &mut refuses), 0);
    }
    assert_eq!((batch.len(), batch.dropped), (4, 0), "not yet");
    // Progress resets the count.
    let mut takes_one = Taker::new(1);
    assert_eq!(batch.flush(NOW, &mut takes_one), 1);
    for _ in 0..TX_STALL_LIMIT - 1 {
        batch.flush(NOW, &mut refuses);
    }
    assert_eq!((batch.len(), batch.dropped), (3, 0), "the count restarted");
    assert_eq!(batch.flush(NOW, &mut refuses), 0);
    assert_eq!(batch.dropped, 0, "nor before TX_STALL_TIME passed");
    assert_eq!(batch.flush(NOW + TX_STALL_TIME, &mut refuses), 0);
    assert_eq!(
        (batch.len(), batch.dropped),
        (2, 1),
        "the stalled head is dropped"
    );
    assert_eq!(tags(&batch), [2, 3], "the head, and only it");
    assert_eq!(p.in_use(), 2, "and freed");
    let mut takes_all = Taker::new(usize::MAX);
    assert_eq!(batch.flush(NOW, &mut takes_all), 2);
    assert_eq!((takes_one.log, takes_all.log), (vec![0], vec![2, 3]));
    assert_eq!(refuses.offers, 2 * u64::from(TX_STALL_LIMIT));
}

/// The old batch kept a `Vec` and removed sent frames with `drain(..n)`: every flush moved
/// every waiting frame down. Here a device that takes one frame per flush leaves the other
/// thousands exactly where they were, so a flush costs the frames sent.
#[test]
fn a_flush_moves_none_of_the_frames_it_leaves_behind() {
    const BACKLOG: u32 = 4096;
    let p = pool("txb_still", 8191);
    let mut batch = TxBatch::with_capacity(BACKLOG as usize);
    for i in 0..BACKLOG {
        batch.push(tagged(&p, i));
    }
    // Where each frame (known by its mbuf) sits in the batch's storage.
    let slot_of: HashMap<usize, usize> = batch
        .frames()
        .map(|f| (f.as_ptr() as usize, f as *const Pkt as usize))
        .collect();
    let mut dev = Taker::new(0);
    for _ in 0..100 {
        dev.room = 1;
        assert_eq!(batch.flush(NOW, &mut dev), 1);
    }
    assert_eq!(dev.offers, 100, "one offer per flush");
    let moved = batch
        .frames()
        .filter(|f| slot_of[&(f.as_ptr() as usize)] != *f as *const Pkt as usize)
        .count();
    assert_eq!(moved, 0, "frames moved in the batch's storage");
    assert_eq!(batch.len(), (BACKLOG - 100) as usize);
    assert_eq!(dev.log, (0..100).collect::<Vec<_>>());
    assert_eq!(tags(&batch), (100..BACKLOG).collect::<Vec<_>>());
}

#[test]
fn flushing_allocates_nothing() {
    let p = pool("txb_alloc", 1023);
    let mut batch = TxBatch::with_capacity(64);
    let mut dev = Taker::new(0);
    let mut frames: Vec<Pkt> = (0..1000).map(|i| tagged(&p, i % 1000)).collect();
    frames.reverse();
    let mut allocs = 0;
    for round in 0..400usize {
        for _ in 0..round % 7 {
            if let Some(f) = frames.pop() {
                batch.push(f);
            }
        }
        dev.room = round % 5;
        allocs += counting::allocations(|| {
            batch.flush(NOW, &mut dev);
        });
    }
    assert_eq!(allocs, 0, "allocations during flushes");
    assert!(dev.log.len() > 500, "frames went out: {}", dev.log.len());
}

/// A real PMD taking a prefix: net_ring's ring (4095 frames) fills up, the rest waits in the
/// batch and follows, in order, once the peer has received.
#[test]
fn net_ring_takes_a_prefix_and_the_rest_follows_in_order() {
    const FRAMES: u32 = 4500;
    let eal = eal::init_for_tests();
    let p = pool("txb_ring", 8191);
    let (a, b) = Port::open_ring_pair(eal, &PortConfig::new(p)).expect("ring pair");
    let (mut qa, mut qb) = (a.queue(0), b.queue(0));
    let mut batch = TxBatch::with_capacity(FRAMES as usize);
    for i in 0..FRAMES {
        batch.push(tagged(&p, i));
    }
    let mut got = Vec::with_capacity(FRAMES as usize);
    let mut bursts = 0;
    while got.len() < FRAMES as usize {
        let queued = batch.len();
        let sent = batch.flush(NOW, &mut qa);
        assert!(sent > 0, "the ring had room");
        bursts += usize::from(sent < queued);
        assert_eq!(batch.len(), queued - sent);
        let mut rx = Vec::with_capacity(512);
        while qb.rx_burst(NOW, &mut rx, 512) > 0 {
            got.extend(rx.drain(..).map(|f| tag(&f)));
        }
    }
    assert!(bursts > 0, "the PMD took only a prefix at least once");
    assert_eq!(got, (0..FRAMES).collect::<Vec<_>>());
    assert_eq!(batch.dropped, 0);
    assert_eq!(p.in_use(), 0);
}
