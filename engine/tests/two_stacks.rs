//! Two `engine::Stack`s exchanging frames (issue 2, "must show"): stack A pings stack B 200
//! times, (a) over a simulated link in virtual time, (b) over a DPDK net_ring pair with a fake
//! clock, and every reply arrives after one ARP resolution; (c) over a simulated link through
//! seeded fault injectors (drop, duplicate, reorder), where the same seed gives exactly the same
//! replies (sequence numbers and arrival instants) and counters on every run, and another seed
//! a different outcome.
//!
//! No test reads a real clock: virtual time jumps to the earliest deadline of either stack.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::Duration;

use engine::buf::{DEFAULT_DATA_ROOM, Mempool, PoolSizes, Pools};
use engine::dev::Device;
use engine::dev::dpdk::{Port, PortConfig};
use engine::dev::fault::{FaultConfig, FaultInjector, FaultStats};
use engine::dev::sim::{SimConfig, SimLink};
use engine::eal;
use engine::ip::EchoReply;
use engine::time::Instant;
use engine::wire::MacAddr;
use engine::{Counters, Stack, StackConfig};

const IP_A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const IP_B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const MAC_A: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xa]);
const MAC_B: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xb]);
const PINGS: u16 = 200;
const IDENT: u16 = 0x7e57;
const DATA_LEN: u16 = 56;
/// Virtual time between two pings.
const INTERVAL: Duration = Duration::from_millis(1);
/// How far the clock jumps when neither stack has a deadline.
const STEP: Duration = Duration::from_millis(1);

fn pools(prefix: &str) -> Pools {
    eal::init_for_tests();
    let sizes = PoolSizes {
        data: 2047,
        hdr: 1023,
        indirect: 1023,
    };
    Pools::create(prefix, &sizes).expect("pools")
}

fn link_pool(prefix: &str) -> Mempool {
    eal::init_for_tests();
    Mempool::create(prefix, 4095, 0, DEFAULT_DATA_ROOM).expect("link pool")
}

/// Polls both stacks at `now` and moves the echo replies A received into `replies`.
fn poll_both<DA: Device, DB: Device>(
    a: &mut Stack<DA>,
    b: &mut Stack<DB>,
    now: Instant,
    replies: &mut Vec<EchoReply>,
) {
    a.poll(now);
    b.poll(now);
    replies.extend(a.ip().echo_replies.drain(..));
}

/// Runs both stacks in virtual time from `*now` up to `until`: poll, then jump to the earliest
/// deadline of either stack (or `STEP` ahead when there is none), always forward.
fn run_until<DA: Device, DB: Device>(
    a: &mut Stack<DA>,
    b: &mut Stack<DB>,
    now: &mut Instant,
    until: Instant,
    replies: &mut Vec<EchoReply>,
) {
    loop {
        poll_both(a, b, *now, replies);
        let next = [a.next_deadline(), b.next_deadline()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(*now + STEP)
            .max(*now + Duration::from_nanos(1));
        if next > until {
            *now = until;
            return;
        }
        *now = next;
    }
}

/// A pings B `PINGS` times, one every `INTERVAL` of virtual time, then lets the stacks run for
/// 5 more virtual seconds (ARP retries, reordered frames). Returns every echo reply A received.
fn ping_in_virtual_time<DA: Device, DB: Device>(
    a: &mut Stack<DA>,
    b: &mut Stack<DB>,
) -> Vec<EchoReply> {
    let mut now = Instant::ZERO;
    let mut replies = Vec::new();
    for seq in 0..PINGS {
        assert!(a.ping(now, IP_B, IDENT, seq, DATA_LEN), "ping {seq} sent");
        let next = now + INTERVAL;
        run_until(a, b, &mut now, next, &mut replies);
    }
    let end = now + Duration::from_secs(5);
    run_until(a, b, &mut now, end, &mut replies);
    replies
}

/// Every ping answered exactly once, in order, by B.
fn assert_every_reply(replies: &[EchoReply]) {
    let seqs: Vec<u16> = replies.iter().map(|r| r.seq_no).collect();
    assert_eq!(
        seqs,
        (0..PINGS).collect::<Vec<_>>(),
        "every reply, once, in order"
    );
    assert!(
        replies.iter().all(|r| r.from == IP_B && r.ident == IDENT),
        "replies come from B with our identifier: {replies:?}"
    );
}

fn get(c: &Counters, name: &str) -> u64 {
    c.get(name)
        .unwrap_or_else(|| panic!("no counter {name}: {c:?}"))
}

/// The echo and ARP counters of a clean run: A resolved B once (B learned A from A's request),
/// each stack announced itself once, nothing was dropped.
fn assert_clean_counters(a: &Counters, b: &Counters, gratuitous: bool) {
    let n = u64::from(PINGS);
    let g = u64::from(gratuitous);
    assert_eq!(get(b, "IcmpInEchos"), n, "B: {b:?}");
    assert_eq!(get(b, "IcmpOutEchoReps"), n, "B: {b:?}");
    assert_eq!(get(a, "IcmpInEchoReps"), n, "A: {a:?}");
    assert_eq!(get(a, "ArpOutRequests"), g + 1, "A asked for B once: {a:?}");
    assert_eq!(get(a, "ArpInReplies"), 1, "A: {a:?}");
    assert_eq!(get(b, "ArpOutReplies"), 1, "B answered once: {b:?}");
    assert_eq!(get(b, "ArpOutRequests"), g, "B never asked for A: {b:?}");
    for c in [a, b] {
        for bad in [
            "UnresolvedDiscards",
            "ArpInErrors",
            "IpInHdrErrors",
            "IcmpInErrors",
            "TxDropped",
            "OutNoBuf",
        ] {
            assert_eq!(get(c, bad), 0, "{bad}: {c:?}");
        }
    }
}

#[test]
fn ping_200_times_over_a_sim_link_in_virtual_time() {
    let (pa, pb) = SimLink::pair(link_pool("2sl"), SimConfig::default(), MAC_A, MAC_B);
    let cfg_a = StackConfig::new(IP_A, 24);
    let gratuitous = cfg_a.neighbor.gratuitous;
    let mut a = Stack::new(pa, pools("2sa"), cfg_a);
    let mut b = Stack::new(pb, pools("2sb"), StackConfig::new(IP_B, 24));
    let replies = ping_in_virtual_time(&mut a, &mut b);
    assert_every_reply(&replies);
    assert_clean_counters(&a.counters(), &b.counters(), gratuitous);
    let (sa, sb) = (a.device().stats(), b.device().stats());
    assert_eq!(
        sa.tail_drops + sa.oversize + sb.tail_drops + sb.oversize + sa.rx_nombuf + sb.rx_nombuf,
        0,
        "the link lost nothing: {sa:?} {sb:?}"
    );
}

#[test]
fn ping_200_times_over_a_net_ring_pair() {
    let eal = eal::init_for_tests();
    let (mut pa, mut pb) =
        Port::open_ring_pair(eal, &PortConfig::new(link_pool("2rl"))).expect("ring pair");
    // net_ring ports come up with MAC 00:00:00:00:00:00 on both ends (rte_eth_from_rings sets
    // none), and open_ring_pair does not assign any yet: give the stacks distinct MACs so that
    // the test shows addressing working rather than two all-zero addresses matching.
    pa.caps.mac = MAC_A;
    pb.caps.mac = MAC_B;
    let cfg_a = StackConfig::new(IP_A, 24);
    let gratuitous = cfg_a.neighbor.gratuitous;
    let mut a = Stack::new(pa.queue(0), pools("2ra"), cfg_a);
    let mut b = Stack::new(pb.queue(0), pools("2rb"), StackConfig::new(IP_B, 24));
    // A fake clock: it only has to move forward (nothing here times out).
    let mut now = Instant::ZERO;
    let mut replies = Vec::new();
    for seq in 0..PINGS {
        assert!(a.ping(now, IP_B, IDENT, seq, DATA_LEN), "ping {seq} sent");
        let mut polls = 0;
        while !replies.iter().any(|r: &EchoReply| r.seq_no == seq) {
            polls += 1;
            assert!(polls < 10_000, "no reply to ping {seq} after {polls} polls");
            now += Duration::from_micros(1);
            poll_both(&mut a, &mut b, now, &mut replies);
        }
    }
    assert_every_reply(&replies);
    assert_clean_counters(&a.counters(), &b.counters(), gratuitous);
    let (sa, sb) = (pa.stats(), pb.stats());
    assert_eq!(sa.opackets, sb.ipackets, "{sa:?} {sb:?}");
    assert_eq!(sb.opackets, sa.ipackets, "{sa:?} {sb:?}");
}

/// What a faulty run produced: the replies A saw, both stacks' counters, the injectors' stats.
#[derive(Debug, PartialEq)]
struct FaultyRun {
    replies: Vec<(u16, Instant)>,
    a: Counters,
    b: Counters,
    faults: (FaultStats, FaultStats),
}

fn faults(seed: u64) -> FaultConfig {
    FaultConfig {
        seed,
        drop: 0.1,
        duplicate: 0.1,
        reorder: 0.1,
        // Longer than the ping interval, so a held frame is overtaken by the next ping's.
        reorder_delay: INTERVAL * 3 / 2,
        corrupt: 0.0,
    }
}

/// Pings over a sim link whose two ends both inject faults (seeds `seed` and `seed + 1`).
fn faulty_run(seed: u64) -> FaultyRun {
    let lp = link_pool("2fl");
    let (pa, pb) = SimLink::pair(lp, SimConfig::default(), MAC_A, MAC_B);
    let fa = FaultInjector::new(pa, lp, faults(seed));
    let fb = FaultInjector::new(pb, lp, faults(seed.wrapping_add(1)));
    let mut a = Stack::new(fa, pools("2fa"), StackConfig::new(IP_A, 24));
    let mut b = Stack::new(fb, pools("2fb"), StackConfig::new(IP_B, 24));
    let replies = ping_in_virtual_time(&mut a, &mut b);
    FaultyRun {
        replies: replies.iter().map(|r| (r.seq_no, r.at)).collect(),
        a: a.counters(),
        b: b.counters(),
        faults: (a.device().stats(), b.device().stats()),
    }
}

#[test]
fn fault_injector_runs_are_deterministic_per_seed() {
    let first = faulty_run(11);
    let again = faulty_run(11);
    let other = faulty_run(12);

    // The faults really happened and show in what A received.
    let (fa, fb) = first.faults;
    for (what, n) in [
        ("dropped", fa.dropped + fb.dropped),
        ("duplicated", fa.duplicated + fb.duplicated),
        ("reordered", fa.reordered + fb.reordered),
    ] {
        assert!(n > 0, "some frames {what}: {:?}", first.faults);
    }
    let seqs: Vec<u16> = first.replies.iter().map(|r| r.0).collect();
    let distinct: BTreeSet<u16> = seqs.iter().copied().collect();
    assert!(
        distinct.len() < usize::from(PINGS),
        "drops cost some replies"
    );
    assert!(seqs.len() > distinct.len(), "duplicates show twice");
    assert!(
        seqs.windows(2).any(|w| w[1] < w[0]),
        "reordering shows in the reply order: {seqs:?}"
    );
    assert!(
        first.replies.windows(2).all(|w| w[0].1 <= w[1].1),
        "arrival instants never go back"
    );

    assert_eq!(
        first, again,
        "same seed: same replies at the same instants, same counters"
    );
    assert_ne!(
        first.replies, other.replies,
        "another seed: a different list of replies"
    );
}
