//! The secrets behind ISNs (RFC 6528) and ephemeral ports (RFC 6056) come from the operating
//! system unless a seed is configured: two stacks started alike (two runs of a program) choose
//! different ports and unrelated ISNs for the same connection, while two stacks with the same
//! seed (a reproducible run) choose the same.

use std::net::Ipv4Addr;
use std::time::Duration;

use engine::buf::{Mempool, Pkt, PoolSizes, Pools};
use engine::dev::Device;
use engine::dev::sim::{SimConfig, SimLink};
use engine::time::Instant;
use engine::wire::{EthernetFrame, Ipv4Packet, MacAddr, SeqNum, TcpPacket};
use engine::{Stack, StackConfig, eal};

const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PEER_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);

/// Starts a stack with `seed`, connects to PEER:80 at a fixed instant, and returns the SYN's
/// source port and sequence number.
fn first_syn(name: &str, seed: Option<u64>) -> (u16, SeqNum) {
    eal::init_for_tests();
    let sizes = PoolSizes {
        data: 255,
        hdr: 255,
        indirect: 255,
    };
    let pools = Pools::create(name, &sizes).expect("pools");
    let link = Mempool::create(&format!("{name}l"), 255, 0, 2176).expect("link pool");
    let (dev, mut raw) = SimLink::pair(
        link,
        SimConfig::default(),
        MacAddr([2, 0, 0, 0, 0, 1]),
        PEER_MAC,
    );
    let mut cfg = StackConfig::new(US, 24);
    cfg.seed = seed;
    cfg.neighbor.gratuitous = false;
    cfg.tcp.max_connections = 16;
    let mut stack = Stack::new(dev, pools, cfg);
    let t = Instant::from_secs(5);
    stack.ip().arp().update(t, PEER, PEER_MAC, true);
    stack.poll(t);
    stack.connect(PEER, 80, None).expect("connect");
    stack.poll(t);
    let mut got: Vec<Pkt> = Vec::new();
    raw.rx_burst(t + Duration::from_millis(10), &mut got, 8);
    let frame = got.first().expect("a SYN on the link");
    let eth = EthernetFrame::new_checked(frame.data()).expect("ethernet");
    let ip = Ipv4Packet::new_checked(eth.payload()).expect("ipv4");
    let tcp = TcpPacket::new_checked(ip.payload()).expect("tcp");
    assert_eq!(
        tcp.flags(),
        engine::wire::TcpFlags::SYN,
        "the first segment is the SYN"
    );
    (tcp.src_port(), tcp.seq())
}

#[test]
fn without_a_seed_two_starts_choose_different_ports_and_unrelated_isns() {
    let (p1, isn1) = first_syn("sca", None);
    let (p2, isn2) = first_syn("scb", None);
    // Equal ports have probability 1/28,232 and ISNs within 2^16 of each other 2^-15 when
    // the secrets are random; with a fixed default secret both were equal.
    assert_ne!(p1, p2, "the same ephemeral port twice");
    let apart = isn1.0.wrapping_sub(isn2.0).min(isn2.0.wrapping_sub(isn1.0));
    assert!(
        apart > 1 << 16,
        "ISNs {} and {} are related",
        isn1.0,
        isn2.0
    );
}

#[test]
fn with_a_seed_two_starts_choose_the_same() {
    assert_eq!(first_syn("ssa", Some(24301)), first_syn("ssb", Some(24301)));
}
