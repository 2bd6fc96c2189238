//! `Pkt` on real DPDK mbufs: allocation, chains, trimming, sharing, indirect range clones, and a
//! net_ring pair moving frames between two ports.

use engine::buf::{Mempool, Pkt};
use engine::dev::Device;
use engine::dev::dpdk::{Port, PortConfig};
use engine::eal;
use engine::time::Instant;

fn pool(name: &str, room: u16) -> Mempool {
    eal::init_for_tests();
    Mempool::create(name, 1023, 0, room).expect("pool")
}

fn bytes(p: &Pkt) -> Vec<u8> {
    let mut v = vec![0; p.len()];
    assert_eq!(p.copy_out(0, &mut v), p.len());
    v
}

#[test]
fn chain_trim_and_copy_keep_lengths_consistent() {
    let data_pool = pool("tchain", 256 + 128);
    let src: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    let mut p = Pkt::from_slice(&data_pool, &src).expect("alloc");
    assert_eq!(p.len(), 1000);
    assert!(p.nb_segs() >= 4, "256-byte mbufs must chain: {p:?}");
    assert_eq!(bytes(&p), src);
    assert!(p.trim_front(300));
    assert!(p.trim_back(200));
    assert_eq!(p.len(), 500);
    assert_eq!(bytes(&p), &src[300..800]);
    assert_eq!(p.segments().map(<[u8]>::len).sum::<usize>(), 500);
    assert!(!p.trim_front(501));
    drop(p);
    assert_eq!(data_pool.in_use(), 0, "every segment returned to the pool");
}

#[test]
fn clone_range_shares_data_without_touching_the_original() {
    let data_pool = pool("tclone", 512 + 128);
    let ind = pool("tind", 0);
    let src: Vec<u8> = (0..2000u32).map(|i| (i * 7) as u8).collect();
    let p = Pkt::from_slice(&data_pool, &src).expect("alloc");
    let c = p.clone_range(&ind, 100, 1500).expect("clone");
    assert_eq!(bytes(&c), &src[100..1600]);
    assert!(p.max_data_refcnt() > 1, "a clone is in flight");
    assert_eq!(bytes(&p), src, "original untouched");
    drop(c);
    assert_eq!(p.max_data_refcnt(), 1);
    assert_eq!(ind.in_use(), 0);
    assert!(p.clone_range(&ind, 1500, 501).is_none());
}

#[test]
fn share_bumps_and_drop_releases() {
    let data_pool = pool("tshare", 2048 + 128);
    let p = Pkt::from_slice(&data_pool, b"hello").expect("alloc");
    let q = p.share();
    assert_eq!(p.refcnt(), 2);
    assert!(!q.is_exclusive());
    drop(q);
    assert!(p.is_exclusive());
    drop(p);
    assert_eq!(data_pool.in_use(), 0);
}

#[test]
fn ring_pair_moves_frames_both_ways() {
    let eal = eal::init_for_tests();
    let rx_pool = pool("tring", 2048 + 128);
    let (a, b) = Port::open_ring_pair(eal, &PortConfig::new(rx_pool)).expect("ring pair");
    let (mut qa, mut qb) = (a.queue(0), b.queue(0));
    let mut batch = vec![];
    for i in 0..10u8 {
        batch.push(Pkt::from_slice(&rx_pool, &[i; 60]).expect("alloc"));
    }
    assert_eq!(qa.tx_burst(Instant::ZERO, &mut batch), 10);
    assert!(batch.is_empty());
    let mut got = Vec::with_capacity(32);
    assert_eq!(qb.rx_burst(Instant::ZERO, &mut got, 32), 10);
    for (i, p) in got.iter().enumerate() {
        assert_eq!(p.data(), &[i as u8; 60]);
    }
    let mut back: Vec<Pkt> = std::mem::take(&mut got);
    assert_eq!(qb.tx_burst(Instant::ZERO, &mut back), 10);
    assert_eq!(qa.rx_burst(Instant::ZERO, &mut got, 32), 10);
    drop(got);
    assert_eq!(rx_pool.in_use(), 0);
}
