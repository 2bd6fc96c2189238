//! IPv4 and IPv6 in one stack: two stacks with an address of each family over the simulated
//! link in virtual time. Neighbor Discovery resolves the peer before the first IPv6 packet,
//! echo requests are answered in both families, and one listener serves both families on the
//! same port at once.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use engine::buf::{Mempool, PoolSizes, Pools};
use engine::dev::sim::{SimConfig, SimLink, SimPort};
use engine::ip::IpCidr;
use engine::tcp::{ConnId, Event, TcpError};
use engine::time::Instant;
use engine::wire::MacAddr;
use engine::{Stack, StackConfig, eal};

const A4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const A6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
const B6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);

fn config(v4: Ipv4Addr, v6: Option<Ipv6Addr>, seed: u64) -> StackConfig {
    let mut addrs = vec![IpCidr::new(v4, 24)];
    addrs.extend(v6.map(|a| IpCidr::new(a, 64)));
    let mut c = StackConfig::with_addrs(addrs);
    c.seed = Some(seed);
    c
}

fn pair(name: &str, b_v6: bool) -> (Stack<SimPort>, Stack<SimPort>) {
    eal::init_for_tests();
    let sizes = PoolSizes {
        data: 4095,
        hdr: 2047,
        indirect: 4095,
    };
    let pa = Pools::create(&format!("{name}a"), &sizes).unwrap();
    let pb = Pools::create(&format!("{name}b"), &sizes).unwrap();
    let link_pool = Mempool::create(&format!("{name}l"), 4095, 0, 2176).unwrap();
    let (da, db) = SimLink::pair(
        link_pool,
        SimConfig {
            latency: Duration::from_micros(50),
            ..SimConfig::default()
        },
        MacAddr([2, 0, 0, 0, 0, 1]),
        MacAddr([2, 0, 0, 0, 0, 2]),
    );
    let a = Stack::new(da, pa, config(A4, Some(A6), 1));
    let b = Stack::new(db, pb, config(B4, b_v6.then_some(B6), 2));
    (a, b)
}

/// Polls both stacks at the next deadline, collecting their events.
fn step(
    a: &mut Stack<SimPort>,
    b: &mut Stack<SimPort>,
    now: &mut Instant,
    evs: &mut Vec<(char, Event)>,
) {
    a.poll(*now);
    b.poll(*now);
    evs.extend(std::iter::from_fn(|| a.poll_event()).map(|e| ('a', e)));
    evs.extend(std::iter::from_fn(|| b.poll_event()).map(|e| ('b', e)));
    let next = [a.next_deadline(), b.next_deadline()]
        .into_iter()
        .flatten()
        .min();
    *now = match next {
        Some(t) if t > *now => t,
        _ => *now + Duration::from_micros(10),
    };
}

#[test]
fn ipv6_ping_resolves_the_neighbour_and_is_answered() {
    let (mut a, mut b) = pair("dsp", true);
    let mut now = Instant::from_millis(1);
    let mut evs = Vec::new();
    for seq in 0..5u16 {
        assert!(a.ping(now, B6, 7, seq, 56));
        for _ in 0..50 {
            step(&mut a, &mut b, &mut now, &mut evs);
        }
    }
    let replies: Vec<_> = a.ip().echo_replies.drain(..).collect();
    assert_eq!(replies.len(), 5, "{replies:?}");
    assert!(
        replies
            .iter()
            .all(|r| r.from == IpAddr::V6(B6) && r.ident == 7)
    );
    let (ca, cb) = (a.counters(), b.counters());
    let get = |c: &engine::Counters, n: &str| c.get(n).unwrap();
    // A solicited B, B answered; B learned A from the solicitation and needed no request.
    assert_eq!(get(&ca, "Icmp6OutNeighborSolicits"), 1);
    assert_eq!(get(&cb, "Icmp6InNeighborSolicits"), 1);
    assert_eq!(
        get(&cb, "Icmp6OutNeighborAdvertisements"),
        1 + 1,
        "one solicited, one at start"
    );
    assert_eq!(get(&cb, "Icmp6InEchos"), 5);
    assert_eq!(get(&cb, "Icmp6OutEchoReplies"), 5);
    assert_eq!(get(&ca, "Icmp6InEchoReplies"), 5);
    assert_eq!(get(&ca, "Icmp6InErrors") + get(&cb, "Icmp6InErrors"), 0);
    assert_eq!(get(&cb, "Ip6InHdrErrors") + get(&cb, "Ip6InAddrErrors"), 0);
    // IPv4 still works beside it.
    assert!(a.ping(now, B4, 8, 0, 56));
    for _ in 0..50 {
        step(&mut a, &mut b, &mut now, &mut evs);
    }
    assert_eq!(a.ip().echo_replies.len(), 1);
}

/// Echoes what the server side reads, until the client has `want` bytes back.
fn echo_both(
    a: &mut Stack<SimPort>,
    b: &mut Stack<SimPort>,
    clients: &[ConnId],
    want: usize,
) -> Vec<(ConnId, Vec<u8>, std::net::SocketAddr)> {
    let mut now = Instant::from_millis(1);
    let mut evs = Vec::new();
    let mut servers = Vec::new();
    let mut got: Vec<Vec<u8>> = vec![Vec::new(); clients.len()];
    let mut sent = vec![0usize; clients.len()];
    let data: Vec<u8> = (0..want).map(|i| (i * 7 % 251) as u8).collect();
    let mut buf = vec![0u8; 65536];
    for _ in 0..200_000 {
        step(a, b, &mut now, &mut evs);
        for (side, ev) in evs.drain(..) {
            if let ('b', Event::Acceptable(l)) = (side, ev) {
                while let Some(s) = b.accept(l) {
                    servers.push(s);
                }
            }
        }
        for &s in &servers {
            while let Ok(n) = b.recv(s, &mut buf) {
                if n == 0 {
                    break;
                }
                assert_eq!(b.send(s, &buf[..n]), Ok(n));
            }
        }
        for (i, &c) in clients.iter().enumerate() {
            if sent[i] < want
                && let Ok(n) = a.send(c, &data[sent[i]..])
            {
                sent[i] += n;
            }
            while let Ok(n) = a.recv(c, &mut buf) {
                if n == 0 {
                    break;
                }
                got[i].extend_from_slice(&buf[..n]);
            }
        }
        if got.iter().all(|g| g.len() == want) {
            break;
        }
    }
    for g in &got {
        assert!(*g == data, "echoed bytes differ ({} of {want})", g.len());
    }
    servers
        .iter()
        .map(|&s| {
            let i = b.info(s).unwrap();
            (s, got[0].clone(), i.remote)
        })
        .collect()
}

#[test]
fn one_listener_serves_both_families_on_one_port() {
    let (mut a, mut b) = pair("dsl", true);
    b.listen(7, 16, None).unwrap();
    let now = Instant::from_millis(1);
    a.poll(now);
    b.poll(now);
    let c4 = a.connect(B4, 7, None).unwrap();
    let c6 = a.connect(B6, 7, None).unwrap();
    let servers = echo_both(&mut a, &mut b, &[c4, c6], 200_000);
    let mut remotes: Vec<IpAddr> = servers.iter().map(|s| s.2.ip()).collect();
    remotes.sort();
    assert_eq!(remotes, [IpAddr::V4(A4), IpAddr::V6(A6)]);
    let i6 = a.info(c6).unwrap();
    assert_eq!((i6.local.ip(), i6.remote), (IpAddr::V6(A6), (B6, 7).into()));
    // Over IPv6 the MSS is 20 bytes smaller (a 40-byte header), less the timestamp option.
    assert_eq!(i6.mss, 1500 - 40 - 20 - 12);
    assert_eq!(a.info(c4).unwrap().mss, 1500 - 20 - 20 - 12);
    let c = b.counters();
    assert!(c.get("Ip6InDelivers").unwrap() > 100);
    assert!(c.get("IpInDelivers").unwrap() > 100);
    assert_eq!(c.get("TcpInErrs").unwrap(), 0);
}

#[test]
fn connecting_without_an_address_of_the_family_is_no_route() {
    let (mut a, mut b) = pair("dsn", false);
    let now = Instant::from_millis(1);
    b.poll(now);
    assert_eq!(b.connect(A6, 7, None), Err(TcpError::NoRoute));
    // Off-link IPv6 without a gateway, from a stack that has an IPv6 address.
    let far = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    assert_eq!(a.connect(far, 7, None), Err(TcpError::NoRoute));
    assert_eq!(a.counters().get("Ip6OutNoRoutes"), Some(1));
    // B has no IPv6 address: A's solicitation for it goes unanswered and is not an error.
    assert!(a.ping(now, B6, 1, 1, 8));
    let mut now = now;
    let mut evs = Vec::new();
    for _ in 0..100 {
        step(&mut a, &mut b, &mut now, &mut evs);
    }
    assert!(a.ip().echo_replies.is_empty());
    assert_eq!(b.counters().get("Icmp6InNeighborSolicits"), Some(0));
}
