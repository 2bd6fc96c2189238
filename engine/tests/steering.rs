//! Flow ownership across the cores of one port (ARCHITECTURE decision 8): the source port an
//! active open chooses on core `c` is one whose received frames the steering of *every* core
//! hands to core `c` (a property over random peers of both families, 2–4 cores), and an
//! override reaches every core's view through the mesh and wins there until cleared.
//!
//! On an RSS port (a spread as read back from a NIC, here built from the Microsoft key) the
//! ports follow the table and steering hands over only overridden flows; on net_ring (the
//! sender picks the queue) nothing is steered and any port will do. A net_null port (RSS kept
//! in software by the driver) is configured and its key and table read back: the RSS path
//! without a NIC.
//!
//! The stacks sit on the queues of a real net_ring port; ownership is the engine's software
//! spread (the one used where a port cannot steer) unless said otherwise, and each core's
//! steering is asked about a frame built for the flow, by that stack's live view.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use engine::buf::{Pkt, PoolSizes, Pools};
use engine::dev::dpdk::{DpdkQueue, Port, PortConfig};
use engine::eal;
use engine::ip::IpCidr;
use engine::ip::steer::{self, Owner, SteerError, Steering};
use engine::rand::Rng;
use engine::rss::{Redirection, Spread};
use engine::tcp::FourTuple;
use engine::{Stack, StackConfig};

const LOCAL4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const LOCAL6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);

fn pools(name: &str) -> Pools {
    let sizes = PoolSizes {
        data: 1023,
        hdr: 511,
        indirect: 511,
    };
    Pools::create(name, &sizes).expect("pools")
}

/// `n` stacks on the queues of a ring port, joined by a mesh over `spread` (`None`: the
/// port's own), and a second set of mesh ends to ask (the stacks own theirs).
fn stacks(
    tag: &str,
    n: u16,
    spread: Option<Spread>,
) -> (Vec<Stack<DpdkQueue>>, Vec<Steering>, Pools) {
    let eal = eal::init_for_tests();
    let shared = pools(&format!("{tag}x"));
    let mut cfg = PortConfig::new(shared.data);
    cfg.rx_queues = n;
    cfg.tx_queues = n;
    let (port, _peer) = Port::open_ring_pair(eal, &cfg).expect("ring pair");
    let spread = spread.unwrap_or_else(|| port.spread.clone());
    let stacks = steer::mesh(n, spread.clone())
        .into_iter()
        .enumerate()
        .map(|(c, st)| {
            let mut sc =
                StackConfig::with_addrs(vec![IpCidr::new(LOCAL4, 8), IpCidr::new(LOCAL6, 16)]);
            sc.seed = Some(100 + c as u64);
            let mut s = Stack::new(port.queue(c as u16), pools(&format!("{tag}{c}")), sc);
            s.set_steering(st);
            s
        })
        .collect();
    (stacks, steer::mesh(n, spread), shared)
}

fn software(seed: u64, n: u16) -> Spread {
    Spread::Software(Arc::new(Redirection::software(&mut Rng::new(seed), n)))
}

/// A TCP segment from the peer to us, as the port would receive it.
fn frame(flow: &FourTuple) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    match (flow.remote_ip, flow.local_ip) {
        (IpAddr::V4(r), IpAddr::V4(l)) => {
            f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0]);
            f.extend_from_slice(&r.octets());
            f.extend_from_slice(&l.octets());
        }
        (IpAddr::V6(r), IpAddr::V6(l)) => {
            f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0, 0, 20, 6, 64]);
            f.extend_from_slice(&r.octets());
            f.extend_from_slice(&l.octets());
        }
        _ => unreachable!("one family per flow"),
    }
    f.extend_from_slice(&flow.remote_port.to_be_bytes());
    f.extend_from_slice(&flow.local_port.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0]);
    f
}

fn random_peer(rng: &mut Rng) -> (IpAddr, u16) {
    let port = (rng.next_u32() % 65535 + 1) as u16;
    let ip = if rng.next_u32().is_multiple_of(2) {
        IpAddr::V4(Ipv4Addr::new(
            10,
            rng.next_u32() as u8,
            rng.next_u32() as u8,
            1,
        ))
    } else {
        let mut o = [0u8; 16];
        o[..8].copy_from_slice(&0xfd00_0000_0000_0000u64.to_be_bytes());
        o[8..].copy_from_slice(&rng.next_u64().to_be_bytes());
        o[15] |= 1;
        IpAddr::V6(Ipv6Addr::from(o))
    };
    (ip, port)
}

/// What every core's steering does with `flow`'s frames, by each stack's current view (the
/// mesh ends `ends` stand in for the stacks' own, which only the stacks can reach).
fn owners(
    ends: &[Steering],
    stacks: &[Stack<DpdkQueue>],
    pool: &Pools,
    flow: &FourTuple,
) -> Vec<Owner> {
    let pkt = Pkt::from_slice(&pool.data, &frame(flow)).expect("mbuf");
    ends.iter()
        .zip(stacks)
        .map(|(e, s)| e.owner(&pkt, s.tcp().steering().expect("steered")))
        .collect()
}

#[test]
fn active_open_ports_steer_back_to_the_connecting_core_both_families() {
    for (n, seed) in [(2u16, 1u64), (3, 2), (4, 3)] {
        let (mut stacks, ends, pool) = stacks(&format!("sp{n}_"), n, Some(software(seed, n)));
        let mut rng = Rng::new(seed * 77);
        let mut v6 = 0;
        for i in 0..400 {
            let c = i % usize::from(n);
            let (ip, port) = random_peer(&mut rng);
            v6 += usize::from(ip.is_ipv6());
            let conn = stacks[c].connect(ip, port, None).expect("connect");
            let info = stacks[c].info(conn).expect("info");
            let flow = info.tuple;
            for (k, owner) in owners(&ends, &stacks, &pool, &flow).into_iter().enumerate() {
                let want = if k == c {
                    Owner::Here
                } else {
                    Owner::Core(c as u16)
                };
                assert_eq!(
                    owner, want,
                    "{n} cores: flow {flow:?} opened on {c}, core {k}"
                );
                assert_eq!(stacks[k].flow_owner(&flow), Some(c as u16));
            }
        }
        assert!(
            v6 > 100 && v6 < 300,
            "both families drawn: {v6} of 400 IPv6"
        );
    }
}

#[test]
fn an_override_wins_on_every_core_until_cleared() {
    let n = 3;
    let (mut stacks, ends, pool) = stacks("ov_", n, Some(software(5, n)));
    let mut rng = Rng::new(11);
    let (ip, port) = random_peer(&mut rng);
    let conn = stacks[1].connect(ip, port, None).expect("connect");
    let flow = stacks[1].info(conn).unwrap().tuple;
    let now = engine::time::Instant::ZERO;
    // Only the owner may move it, and only to a core that exists.
    assert_eq!(
        stacks[0].override_flow(flow, 2),
        Err(SteerError::NotOwner { owner: 1 })
    );
    assert_eq!(
        stacks[1].override_flow(flow, 7),
        Err(SteerError::NoSuchCore(7))
    );
    stacks[1].override_flow(flow, 2).expect("override");
    assert_eq!(stacks[1].flow_owner(&flow), Some(2), "the issuer at once");
    for s in stacks.iter_mut() {
        s.poll(now);
    }
    for (k, s) in stacks.iter().enumerate() {
        assert_eq!(s.flow_owner(&flow), Some(2), "core {k}");
    }
    let moved = vec![Owner::Core(2), Owner::Core(2), Owner::Here];
    assert_eq!(owners(&ends, &stacks, &pool, &flow), moved);
    assert_eq!(
        stacks[1].clear_override(flow),
        Err(SteerError::NotOwner { owner: 2 })
    );
    stacks[2].clear_override(flow).expect("clear");
    for s in stacks.iter_mut() {
        s.poll(now);
    }
    for (k, s) in stacks.iter().enumerate() {
        assert_eq!(
            s.flow_owner(&flow),
            Some(1),
            "core {k} back to the hash owner"
        );
    }
    let home = vec![Owner::Core(1), Owner::Here, Owner::Core(1)];
    assert_eq!(owners(&ends, &stacks, &pool, &flow), home);
}

#[test]
fn where_the_sender_picks_the_queue_frames_stay_and_ports_are_free() {
    // A net_ring port: the sender picks the queue.
    let (mut stacks, ends, pool) = stacks("sd_", 2, None);
    let view = stacks[0].tcp().steering().unwrap();
    assert!(matches!(view.spread(), Spread::Sender), "{view:?}");
    let mut rng = Rng::new(3);
    for i in 0..50 {
        let (ip, port) = random_peer(&mut rng);
        let conn = stacks[i % 2].connect(ip, port, None).expect("connect");
        let flow = stacks[i % 2].info(conn).unwrap().tuple;
        assert_eq!(owners(&ends, &stacks, &pool, &flow), vec![Owner::Here; 2]);
        assert_eq!(stacks[0].flow_owner(&flow), None);
    }
}

#[test]
fn on_an_rss_port_ports_follow_the_table_and_only_overrides_are_steered() {
    let key = engine::rss::MICROSOFT_KEY;
    let nic = Spread::Nic(Arc::new(Redirection::even(&key, 512, 2).unwrap()));
    let (mut stacks, ends, pool) = stacks("nic_", 2, Some(nic));
    let mut rng = Rng::new(21);
    let mut moved = Vec::new();
    for i in 0..100 {
        let c = i % 2;
        let (ip, port) = random_peer(&mut rng);
        let conn = stacks[c].connect(ip, port, None).expect("connect");
        let flow = stacks[c].info(conn).unwrap().tuple;
        // The port was chosen so that the NIC's table sends the flow to core c ...
        assert_eq!(stacks[1 - c].flow_owner(&flow), Some(c as u16));
        // ... so steering trusts the queue a frame arrives on.
        assert_eq!(owners(&ends, &stacks, &pool, &flow), vec![Owner::Here; 2]);
        if i < 4 {
            stacks[c].override_flow(flow, 1 - c as u16).unwrap();
            moved.push((flow, 1 - c as u16));
        }
    }
    for s in stacks.iter_mut() {
        s.poll(engine::time::Instant::ZERO);
    }
    for (flow, to) in moved {
        let want: Vec<Owner> = (0..2)
            .map(|k| {
                if k == to {
                    Owner::Here
                } else {
                    Owner::Core(to)
                }
            })
            .collect();
        assert_eq!(owners(&ends, &stacks, &pool, &flow), want, "{flow:?}");
    }
}

/// net_null has RSS in software (a 128-entry table, a 40-byte key, every hash type) but
/// ignores the key given at configure: the engine asks again and takes what the port reads
/// back, key and table, for its ownership.
#[test]
fn an_rss_port_is_configured_and_its_key_and_table_read_back() {
    let eal = eal::init_for_tests();
    let pool = pools("nul_");
    let mut cfg = PortConfig::new(pool.data);
    cfg.rx_queues = 2;
    cfg.tx_queues = 2;
    let key: [u8; 40] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11));
    cfg.rss_key = Some(key);
    let spec = format!("eal:net_null_rss{}", std::process::id());
    let port = Port::open(eal, &spec.parse().unwrap(), &cfg).expect("net_null");
    let Spread::Nic(r) = &port.spread else {
        panic!("net_null steers by RSS: {}", port.steering)
    };
    assert!(port.steering.contains("read back"), "{}", port.steering);
    assert_eq!(
        r.toeplitz().key(),
        &key,
        "the key read back is the one asked for"
    );
    assert_eq!(r.table().len(), 128, "the port's table size");
    for (i, &q) in r.table().iter().enumerate() {
        assert_eq!(q, (i % 2) as u16, "entry {i}: queues spread evenly");
    }
    port.close();
    // One queue: nothing to steer.
    let one = Port::open(
        eal,
        &format!("eal:net_null_one{}", std::process::id())
            .parse()
            .unwrap(),
        &PortConfig::new(pool.data),
    )
    .expect("net_null");
    assert!(matches!(one.spread, Spread::Sender), "{}", one.steering);
    one.close();
}
