//! Memory pressure (ARCHITECTURE decision 11): resource exhaustion produces backpressure and
//! counted drops, never a deadlock, and recovers by itself.
//!
//! The scenario that deadlocks a stack without it: B echoes with zero copy, so every payload
//! mbuf it receives sits in its send queue until A acknowledges it; A stops reading, its
//! window closes, B's send queue keeps the mbufs, B's pool (which the link also delivers into,
//! as a NIC's rx ring) runs dry, and then not even A's window update can reach B. At the memory
//! hard limit (`tcp::memory`), B drops received payload that it alone holds (the link's copy,
//! as a NIC's receive mbuf) but keeps receiving ACKs, so everything flows again once A reads.
//! `tcp_pressure_ring.rs` is the other half: payload shared with the sender is kept.

use std::net::Ipv4Addr;
use std::time::Duration;

use engine::buf::{Mempool, PoolSizes, Pools};
use engine::dev::sim::{SimConfig, SimLink, SimPort};
use engine::tcp::{ConnOptions, Event};
use engine::time::Instant;
use engine::wire::MacAddr;
use engine::{Stack, StackConfig, eal};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// Mbufs in B's payload pool, which the link delivers into for both ends.
const POOL: u32 = 2047;
const BYTES: usize = 6 << 20;

fn stacks() -> (Stack<SimPort>, Stack<SimPort>) {
    eal::init_for_tests();
    let sizes = PoolSizes {
        data: 8191,
        hdr: 4095,
        indirect: 8191,
    };
    let pa = Pools::create("prsa", &sizes).unwrap();
    let mut pb = Pools::create("prsb", &sizes).unwrap();
    // B's "rx ring" and payload pool are one small pool, as a NIC port's would be.
    pb.data = Mempool::create("prsl", POOL, 0, 2176).unwrap();
    let link = SimConfig {
        latency: Duration::from_micros(50),
        ..SimConfig::default()
    };
    let (da, db) = SimLink::pair(
        pb.data,
        link,
        MacAddr([2, 0, 0, 0, 0, 1]),
        MacAddr([2, 0, 0, 0, 0, 2]),
    );
    let big = ConnOptions {
        sndbuf: 8 << 20,
        rcvbuf: 8 << 20,
        ..ConnOptions::default()
    };
    let mut ca = StackConfig::new(A, 24);
    // A's window is far smaller than what B can hold: once A stops reading, B's send queue
    // (full of mbufs it received) cannot drain.
    ca.tcp.default_options = ConnOptions {
        rcvbuf: 256 << 10,
        ..big
    };
    let mut cb = StackConfig::new(B, 24);
    cb.tcp.default_options = big;
    cb.seed = Some(9);
    (Stack::new(da, pa, ca), Stack::new(db, pb, cb))
}

#[test]
fn a_pool_drained_by_held_data_recovers_once_the_peer_reads() {
    let (mut a, mut b) = stacks();
    let l = b.listen(7, 8, None).unwrap();
    let mut now = Instant::from_millis(1);
    a.poll(now);
    b.poll(now);
    let c = a.connect(B, 7, None).unwrap();
    let data: Vec<u8> = (0..BYTES).map(|i| (i * 13 % 251) as u8).collect();
    let (mut sent, mut got, mut srv, mut buf) = (0, Vec::new(), None, vec![0u8; 1 << 16]);
    // A reads nothing for the first 3 s of virtual time.
    let reading_from = Instant::from_secs(3);
    let mut held = None;
    for _ in 0..20_000_000u64 {
        a.poll(now);
        b.poll_with(now, |st, ev| {
            if let Event::Acceptable(_) = ev {
                srv = st.accept(l);
            }
        });
        if let Some(s) = srv {
            // Zero-copy echo: the received mbufs go straight into B's send queue.
            loop {
                let p = match held.take() {
                    Some(p) => p,
                    None => match b.recv_pkt(s) {
                        Ok(Some(p)) => p,
                        _ => break,
                    },
                };
                if let Err((_, p)) = b.send_pkt(s, p) {
                    held = Some(p);
                    break;
                }
            }
        }
        while a.poll_event().is_some() {}
        if sent < BYTES {
            sent += a.send(c, &data[sent..]).unwrap_or(0);
        }
        if now >= reading_from {
            while let Ok(n) = a.recv(c, &mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
        }
        if got.len() == BYTES {
            break;
        }
        let next = [a.next_deadline(), b.next_deadline()]
            .into_iter()
            .flatten()
            .min();
        now = match next {
            Some(t) if t > now => t.min(now + Duration::from_millis(1)),
            _ => now + Duration::from_micros(1),
        };
        assert!(
            now < Instant::from_secs(120),
            "stalled: got {} of {BYTES}, B {:?}",
            got.len(),
            b.counters().tcp
        );
    }
    assert_eq!(got.len(), BYTES);
    assert!(got == data, "echoed bytes intact and in order");
    let cb = b.counters().tcp;
    assert!(cb.memory_pressures > 0, "B's pool ran low: {cb:?}");
    assert!(
        cb.pressure_drops > 0,
        "payload was dropped, not queued, at the hard limit"
    );
}
