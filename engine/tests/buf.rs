//! `Pkt` on real DPDK mbufs: allocation, chains, trimming, sharing, indirect range clones (whose
//! metadata is their own, whatever the refcount, on any thread), the typed checksum and offload
//! flags, and a net_ring pair moving frames between two ports.

use engine::buf::{CsumVerdict, L4, Mempool, Pkt, RxCsum, TxOffload, TxRequest, TxRequestError};
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
    // SAFETY: neither handle's metadata changes while both live: only reads follow.
    let q = unsafe { p.share() };
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

#[test]
fn an_indirect_clone_has_its_own_metadata_whatever_the_refcount() {
    let data_pool = pool("tmeta", 2048 + 128);
    let ind = pool("tmetai", 0);
    let src: Vec<u8> = (0..200u8).collect();
    let mut p = Pkt::from_slice(&data_pool, &src).expect("alloc");
    let mut c = p.clone_range(&ind, 0, 200).expect("clone");
    assert_eq!(p.refcnt(), 2, "the clone references the direct mbuf");
    assert!(!p.is_exclusive(), "so its bytes are read-only");
    // Trimming and offload fields are metadata: allowed, and private to each handle.
    assert!(p.trim_front(50));
    assert!(p.trim_back(10));
    p.set_tx_offload(TxOffload {
        l2_len: 14,
        l3_len: 20,
        l4_len: 20,
        tso_segsz: 0,
    });
    assert_eq!(bytes(&p), &src[50..190]);
    assert_eq!(bytes(&c), src, "the clone's view is unchanged");
    assert_eq!(c.tx_offload(), TxOffload::default());
    assert!(c.trim_front(100));
    assert_eq!(bytes(&c), &src[100..]);
    assert_eq!(bytes(&p), &src[50..190], "and the other way round");
    assert!(
        p.data_mut().is_none(),
        "no byte writes while the clone lives"
    );
    drop(c);
    assert!(p.is_exclusive());
    assert!(p.data_mut().is_some());
    drop(p);
    assert_eq!((data_pool.in_use(), ind.in_use()), (0, 0));
}

#[test]
fn a_clone_moves_to_another_thread_with_its_metadata() {
    let data_pool = pool("tsend", 2048 + 128);
    let ind = pool("tsendi", 0);
    let src: Vec<u8> = (0..100u8).collect();
    let p = Pkt::from_slice(&data_pool, &src).expect("alloc");
    let clones: Vec<Pkt> = (0..4)
        .map(|_| p.clone_range(&ind, 0, 100).expect("clone"))
        .collect();
    let workers: Vec<_> = clones
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            std::thread::spawn(move || {
                assert!(c.trim_front(10 * i));
                c.request_tx_offload(TxRequest {
                    l4_cksum: Some(L4::Tcp),
                    l2_len: 14,
                    l3_len: 20,
                    ..TxRequest::default()
                })
                .expect("valid request");
                (c.len(), c.data()[0])
            })
        })
        .collect();
    for _ in 0..100 {
        assert_eq!(bytes(&p), src, "the original is untouched meanwhile");
    }
    for (i, w) in workers.into_iter().enumerate() {
        assert_eq!(w.join().expect("worker"), (100 - 10 * i, (10 * i) as u8));
    }
    assert_eq!(p.ol_flags(), 0);
    assert_eq!(p.refcnt(), 1, "every clone freed on its thread");
    drop(p);
    assert_eq!((data_pool.in_use(), ind.in_use()), (0, 0));
}

#[test]
fn rx_csum_reads_the_verdicts_of_an_mbuf() {
    let data_pool = pool("trxc", 2048 + 128);
    let mut p = Pkt::from_slice(&data_pool, b"frame").expect("alloc");
    let unknown = RxCsum {
        ip: CsumVerdict::Unknown,
        l4: CsumVerdict::Unknown,
    };
    assert_eq!(p.rx_csum(), unknown, "a fresh mbuf says nothing");
    p.set_ol_flags(dpdk_sys::RTE_MBUF_F_RX_IP_CKSUM_GOOD | dpdk_sys::RTE_MBUF_F_RX_L4_CKSUM_BAD);
    assert_eq!(
        p.rx_csum(),
        RxCsum {
            ip: CsumVerdict::Good,
            l4: CsumVerdict::Bad
        }
    );
}

#[test]
fn request_tx_offload_sets_flags_and_lengths_and_refuses_bad_requests() {
    let data_pool = pool("ttxo", 2048 + 128);
    let mut p = Pkt::from_slice(&data_pool, b"frame").expect("alloc");
    let rx_bits = dpdk_sys::RTE_MBUF_F_RX_IP_CKSUM_GOOD;
    p.set_ol_flags(rx_bits);
    let tso = TxRequest {
        ipv4_cksum: true,
        l4_cksum: Some(L4::Tcp),
        tso_segsz: 1448,
        l2_len: 14,
        l3_len: 20,
        l4_len: 32,
        ipv6: false,
    };
    p.request_tx_offload(tso).expect("valid");
    let tx_bits = dpdk_sys::RTE_MBUF_F_TX_IPV4
        | dpdk_sys::RTE_MBUF_F_TX_IP_CKSUM
        | dpdk_sys::RTE_MBUF_F_TX_TCP_CKSUM
        | dpdk_sys::RTE_MBUF_F_TX_TCP_SEG;
    assert_eq!(p.ol_flags(), rx_bits | tx_bits, "other bits kept");
    let lens = TxOffload {
        l2_len: 14,
        l3_len: 20,
        l4_len: 32,
        tso_segsz: 1448,
    };
    assert_eq!(p.tx_offload(), lens);
    // A refused request changes nothing.
    let bad = TxRequest { ipv6: true, ..tso };
    assert_eq!(
        p.request_tx_offload(bad),
        Err(TxRequestError::IpCksumOnIpv6)
    );
    assert_eq!((p.ol_flags(), p.tx_offload()), (rx_bits | tx_bits, lens));
    // A new request replaces the transmit bits; IPv6 TSO has no IP checksum.
    let v6 = TxRequest {
        ipv6: true,
        ipv4_cksum: false,
        l3_len: 40,
        ..tso
    };
    p.request_tx_offload(v6).expect("valid");
    assert_eq!(
        p.ol_flags(),
        rx_bits
            | dpdk_sys::RTE_MBUF_F_TX_IPV6
            | dpdk_sys::RTE_MBUF_F_TX_TCP_CKSUM
            | dpdk_sys::RTE_MBUF_F_TX_TCP_SEG
    );
    // Asking for nothing clears them.
    p.request_tx_offload(TxRequest::default()).expect("valid");
    assert_eq!(
        (p.ol_flags(), p.tx_offload()),
        (rx_bits, TxOffload::default())
    );
}
