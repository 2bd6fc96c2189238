//! Multi-core software steering (ARCHITECTURE decision 8) against the Linux kernel: a net_tap
//! port with two queues, one engine stack per queue joined by a steering mesh, 32 active
//! opens to a kernel echo server. The kernel picks the receive queue by its own flow hash, so
//! about half the flows arrive on the other core's queue; every byte must still come back, and
//! the stacks must show frames handed across.

mod common;
#[path = "common/tcp.rs"]
mod tcp;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use apps::clock::Clock;
use engine::buf::{PoolSizes, Pools};
use engine::dev::dpdk::{DpdkQueue, Port, PortConfig};
use engine::ip::steer;
use engine::tcp::{ConnId, Event};
use engine::{Stack, StackConfig};

use common::{Netns, unique_name};
use tcp::{ENGINE_IP, KERNEL_IP, KERNEL_MAC, kernel_listen, pattern};

const CORES: u16 = 2;
const CONNS_PER_CORE: usize = 16;
const BYTES: usize = 64 * 1024;
const PORT: u16 = 7007;

/// A kernel echo server in `ns`: one thread per connection.
fn kernel_echo(ns: &Netns) {
    let listener = kernel_listen(ns, PORT);
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let mut buf = vec![0; 65536];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
            });
        }
    });
}

struct Flow {
    conn: ConnId,
    sent: usize,
    got: Vec<u8>,
}

/// Opens the tap with `CORES` queues and one steered stack per queue.
fn stacks(tap: &str) -> (Port, Vec<Stack<DpdkQueue>>) {
    let eal = engine::eal::init_for_tests();
    let pools: Vec<Pools> = (0..CORES)
        .map(|q| Pools::create(&unique_name(&format!("st{q}")), &PoolSizes::default()).unwrap())
        .collect();
    let mut cfg = PortConfig::new(pools[0].data);
    cfg.rx_queues = CORES;
    cfg.tx_queues = CORES;
    cfg.rx_pools = pools.iter().map(|p| p.data).collect();
    let port = Port::open(eal, &format!("tap:{tap}").parse().unwrap(), &cfg).unwrap();
    assert_eq!(port.rx_queues, CORES, "the tap must have {CORES} queues");
    let mesh = steer::mesh(CORES, 32768..=60999);
    let stacks = mesh
        .into_iter()
        .zip(pools)
        .enumerate()
        .map(|(i, (st, p))| {
            let mut c = StackConfig::new(ENGINE_IP, 24);
            c.seed = Some(7 + i as u64);
            c.tcp.steering = Some((i as u16, CORES));
            let mut s = Stack::new(port.queue(i as u16), p, c);
            s.set_steering(st);
            s
        })
        .collect();
    (port, stacks)
}

#[test]
fn flows_landing_on_the_other_cores_queue_are_steered_home() {
    let ns = Netns::new();
    let tap = unique_name("stp");
    kernel_echo(&ns);
    let nsr = &ns;
    let (counters, all_ok) = ns.in_thread(move || {
        let (port, mut stacks) = stacks(&tap);
        nsr.wait_for_link(&tap);
        nsr.configure_peer(&tap, &format!("{KERNEL_IP}/24"), Some(KERNEL_MAC));
        let clock = Clock::new(engine::eal::init_for_tests());
        let data = pattern(BYTES, 5);
        let mut flows: Vec<Vec<Flow>> = (0..CORES).map(|_| Vec::new()).collect();
        for (i, s) in stacks.iter_mut().enumerate() {
            s.poll(clock.now());
            for _ in 0..CONNS_PER_CORE {
                let conn = s.connect(KERNEL_IP, PORT, None).expect("connect");
                assert_eq!(
                    s.info(conn).unwrap().local.port() % CORES,
                    i as u16,
                    "port steers home"
                );
                flows[i].push(Flow {
                    conn,
                    sent: 0,
                    got: Vec::new(),
                });
            }
        }
        let start = Instant::now();
        let mut buf = vec![0; 65536];
        while flows.iter().flatten().any(|f| f.got.len() < BYTES) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "steered flows stalled"
            );
            for (s, fl) in stacks.iter_mut().zip(flows.iter_mut()) {
                s.poll(clock.now());
                while let Some(ev) = s.poll_event() {
                    if let Event::Closed(c, e) = ev {
                        panic!("connection {c:?} closed early: {e:?}");
                    }
                }
                for f in fl.iter_mut() {
                    if f.sent < BYTES {
                        f.sent += s.send(f.conn, &data[f.sent..]).unwrap_or(0);
                    }
                    while let Ok(n) = s.recv(f.conn, &mut buf) {
                        if n == 0 {
                            break;
                        }
                        f.got.extend_from_slice(&buf[..n]);
                    }
                }
            }
        }
        let ok = flows.iter().flatten().all(|f| f.got == data);
        let counters: Vec<_> = stacks.iter().map(|s| s.counters()).collect();
        drop(stacks);
        port.close();
        (counters, ok)
    });
    assert!(all_ok, "every flow gets its own bytes back, in order");
    let forwarded: u64 = counters.iter().map(|c| c.steer_forwarded).sum();
    let drops: u64 = counters.iter().map(|c| c.steer_drops).sum();
    assert!(forwarded > 0, "some frames crossed cores: {counters:?}");
    assert_eq!(drops, 0, "no frame was lost crossing cores");
    for c in &counters {
        assert_eq!(c.tcp.active_opens, CONNS_PER_CORE as u64);
        assert_eq!(c.tcp.estab_resets + c.tcp.attempt_fails, 0);
    }
}
