//! Memory pressure between two stacks that share their pools over a net_ring pair (the
//! embedded loadgen's set-up), where received payload is an indirect clone of the *sender's*
//! mbuf: refusing it frees nothing.
//!
//! A opens several connections and pushes bulk data with `send` (a copy into A's send queue)
//! while reading back and checking what B echoes; B echoes with zero copy (`recv_pkt` into
//! `send_pkt`). The pools are far smaller than the send buffers, so the data pool runs low.
//! When pressure meant "drop every received payload", both ends dropped: A's send queue kept
//! its mbufs waiting for B's ACKs, B's send queue kept its clones waiting for A's, the pool
//! stayed low and nothing ever moved again (loadgen `stream --conns 16` stalled at 0 Gbit/s).
//! Now `send` is refused under pressure while in-order data is still accepted, and every byte
//! must come back, in order, on every connection.
//!
//! Once a quarter of the data is back, the test itself takes every data mbuf that frees up
//! (another user of the pool) while A still has data queued, so the pool stays under the
//! pressure line and A's queues must drain at that level; it lets them go when they are empty,
//! and does so again until 2 MiB came back *while* both stacks were under pressure: queued data
//! must keep flowing both ways at that level.
//!
//! The clock is fake (stepped, never read): idle polls jump to the next timer deadline.

use std::net::Ipv4Addr;
use std::time::Duration;

use engine::buf::{DEFAULT_DATA_ROOM, Mempool, Pkt, PoolSizes, Pools};
use engine::dev::dpdk::{Port, PortConfig};
use engine::tcp::memory::MemLevel;
use engine::tcp::{ConnId, ConnOptions, Event};
use engine::time::Instant;
use engine::wire::MacAddr;
use engine::{Stack, StackConfig, eal};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const CONNS: usize = 8;
/// Bytes each connection sends and gets back.
const BYTES: usize = 8 << 20;
/// Bytes per `send` call, as loadgen's stream client writes.
const WRITE: usize = 64 << 10;
/// Bytes that must come back while both stacks are under pressure before the test lets the
/// pool go.
const UNDER_PRESSURE: usize = 2 << 20;
/// Virtual seconds after which the run counts as stalled.
const GIVE_UP_SECS: u64 = 120;

fn pattern(conn: usize, i: usize) -> u8 {
    ((i * 31 + conn * 7) % 251) as u8
}

#[test]
fn bulk_echo_over_shared_pools_finishes_under_memory_pressure() {
    let eal = eal::init_for_tests();
    let link = Mempool::create("prrl", 1023, 0, DEFAULT_DATA_ROOM).unwrap();
    let (mut pa, mut pb) = Port::open_ring_pair(eal, &PortConfig::new(link)).unwrap();
    pa.caps.mac = MacAddr([2, 0, 0, 0, 0, 1]);
    pb.caps.mac = MacAddr([2, 0, 0, 0, 0, 2]);
    // One set of pools for both stacks, as loadgen's embedded client and server share theirs:
    // 2047 data mbufs (about 3 MiB of payload) against 8 MiB of send buffers on each side.
    let sizes = PoolSizes {
        data: 1023,
        hdr: 2047,
        indirect: 4095,
    };
    let pools = Pools::create("prr", &sizes).unwrap();
    let opts = ConnOptions {
        sndbuf: 1 << 20,
        rcvbuf: 1 << 20,
        ..ConnOptions::default()
    };
    let mut ca = StackConfig::new(A, 24);
    ca.tcp.default_options = opts;
    // Count the pools on every poll, so that both stacks see each change of level at once.
    ca.memory_check_every = 1;
    let mut cb = StackConfig::new(B, 24);
    cb.tcp.default_options = opts;
    cb.memory_check_every = 1;
    cb.seed = Some(11);
    let mut a = Stack::new(pa.queue(0), pools, ca);
    let mut b = Stack::new(pb.queue(0), pools, cb);

    let l = b.listen(7, 64, None).unwrap();
    let mut now = Instant::from_millis(1);
    a.poll(now);
    b.poll(now);
    let conns: Vec<ConnId> = (0..CONNS).map(|_| a.connect(B, 7, None).unwrap()).collect();
    let data: Vec<Vec<u8>> = (0..CONNS)
        .map(|c| (0..BYTES).map(|i| pattern(c, i)).collect())
        .collect();
    let mut sent = [0usize; CONNS];
    let mut got = [0usize; CONNS];
    let mut servers = Vec::new();
    let mut held = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    // Mbufs the test holds to keep the pool low, and the bytes echoed under pressure.
    let (mut hog, mut under_pressure) = (Vec::<Pkt>::new(), 0usize);
    while got.iter().any(|&g| g < BYTES) {
        let moved = a.poll(now)
            + b.poll_with(now, |st, ev| {
                if let Event::Acceptable(_) = ev {
                    while let Some(s) = st.accept(l) {
                        servers.push(s);
                        held.push(None);
                    }
                }
            });
        // B: zero-copy echo; a packet send_pkt refuses waits for the next round.
        for (s, h) in servers.iter().zip(held.iter_mut()) {
            loop {
                let p = match h.take() {
                    Some(p) => p,
                    None => match b.recv_pkt(*s) {
                        Ok(Some(p)) => p,
                        _ => break,
                    },
                };
                if let Err((_, p)) = b.send_pkt(*s, p) {
                    *h = Some(p);
                    break;
                }
            }
        }
        while a.poll_event().is_some() {}
        let total: usize = got.iter().sum();
        let queued = sent.iter().zip(&got).any(|(s, g)| s > g);
        let hogging = under_pressure < UNDER_PRESSURE && total >= CONNS * BYTES / 4 && queued;
        if !hogging {
            hog.clear();
        } else {
            let pool = pools.data;
            while pool.available() >= pool.capacity() / 16 {
                hog.push(Pkt::alloc(&pool).expect("the pool has mbufs left"));
            }
        }
        let pressure = [&a, &b]
            .iter()
            .all(|s| s.tcp().memory_level() == MemLevel::Pressure);
        for (i, &c) in conns.iter().enumerate() {
            while sent[i] < BYTES {
                let end = (sent[i] + WRITE).min(BYTES);
                match a.send(c, &data[i][sent[i]..end]) {
                    Ok(n) => sent[i] += n,
                    Err(_) => break,
                }
            }
            while let Ok(n) = a.recv(c, &mut buf) {
                if n == 0 {
                    break;
                }
                assert!(
                    buf[..n] == data[i][got[i]..got[i] + n],
                    "connection {i}: echoed bytes intact and in order at {}",
                    got[i]
                );
                got[i] += n;
                if hogging && pressure {
                    under_pressure += n;
                }
            }
        }
        // Frames moved: poll again soon; idle: jump to the next timer.
        let step = Duration::from_micros(5);
        now = if moved > 0 {
            now + step
        } else {
            [a.next_deadline(), b.next_deadline()]
                .into_iter()
                .flatten()
                .min()
                .map_or(now + Duration::from_millis(1), |t| t.max(now + step))
        };
        assert!(
            now < Instant::from_secs(GIVE_UP_SECS),
            "stalled: got {got:?} of {BYTES} each (sent {sent:?}; {under_pressure} bytes under \
             pressure, test holding {} mbufs); pools: data {} indirect {} hdr {} free; A {:?}; \
             B {:?}",
            hog.len(),
            pools.data.available(),
            pools.indirect.available(),
            pools.hdr.available(),
            a.counters(),
            b.counters()
        );
    }
    let (ta, tb) = (a.counters().tcp, b.counters().tcp);
    assert!(
        ta.memory_pressures > 0 && tb.memory_pressures > 0,
        "both stacks went under pressure: A {ta:?} B {tb:?}"
    );
    assert!(
        under_pressure >= UNDER_PRESSURE,
        "data flowed under pressure: {under_pressure} bytes"
    );
    assert!(ta.send_pressure > 0, "A's sends were held back: {ta:?}");
    assert_eq!(
        ta.pressure_drops + tb.pressure_drops,
        0,
        "payload shared with the sender is never dropped"
    );
    assert_eq!(
        ta.estab_resets + tb.estab_resets,
        0,
        "no connection was reset"
    );
}
