//! Multi-core steering (ARCHITECTURE decision 8) against the Linux kernel: a net_tap port with
//! two queues, one engine stack per queue joined by a steering mesh over the port's spread.
//! net_tap cannot steer (the kernel's tun hash picks the queue), so the port reports so and the
//! engine's Toeplitz key and table decide ownership; about half the frames arrive on the other
//! core's queue and must be handed over.
//!
//! - Active opens of both families from each core to a kernel echo server: each connection's
//!   flow is owned by the core that opened it, every byte comes back, frames crossed cores.
//! - Kernel clients of both families to engine listeners on both cores: each accepted
//!   connection is on the core that owns its flow, every echo is intact.
//! - An override: a flow the hash gives to core 1 is moved to core 0 before core 0 opens it;
//!   its echo completes with core 1 sending no reset (frames core 1 receives go to core 0).

mod common;
#[path = "common/tcp.rs"]
mod tcp;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use apps::clock::Clock;
use engine::buf::{PoolSizes, Pools};
use engine::dev::dpdk::{DpdkQueue, Port, PortConfig};
use engine::ip::IpCidr;
use engine::ip::steer;
use engine::rss::Spread;
use engine::tcp::{ConnId, Event, FourTuple, ListenerId};
use engine::{Counters, Stack, StackConfig};

use common::{Netns, unique_name};
use tcp::{ENGINE_IP, ENGINE_IP6, KERNEL_IP, KERNEL_IP6, KERNEL_MAC, kernel_connect, pattern};

const CORES: u16 = 2;
const CONNS_PER_CORE: usize = 16;
const BYTES: usize = 64 * 1024;
const ECHO_PORT: u16 = 7007;
const ENGINE_PORT: u16 = 7100;
/// Per stack: a quarter of the default, so the three tests fit one EAL under `cargo test`.
const POOLS: PoolSizes = PoolSizes {
    data: 4095,
    hdr: 2047,
    indirect: 4095,
};

/// A kernel echo server in `ns` on both families: one thread per connection.
fn kernel_echo(ns: &Netns) {
    let any = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), ECHO_PORT);
    let listener = tcp::kernel_listen_on(ns, any);
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

impl Flow {
    fn new(conn: ConnId) -> Flow {
        Flow {
            conn,
            sent: 0,
            got: Vec::new(),
        }
    }
}

/// Opens `spec` (a port that cannot steer) with `CORES` queues, one steered stack per queue;
/// with `tap`, then configures the kernel's end of that tap with both families.
fn setup(ns: &Netns, spec: &str, tap: Option<&str>) -> (Port, Vec<Stack<DpdkQueue>>) {
    let eal = engine::eal::init_for_tests();
    let pools: Vec<Pools> = (0..CORES)
        .map(|q| Pools::create(&unique_name(&format!("st{q}")), &POOLS).unwrap())
        .collect();
    let mut cfg = PortConfig::new(pools[0].data);
    cfg.rx_queues = CORES;
    cfg.tx_queues = CORES;
    cfg.rx_pools = pools.iter().map(|p| p.data).collect();
    let port = Port::open(eal, &spec.parse().unwrap(), &cfg).unwrap();
    assert_eq!(port.rx_queues, CORES, "{spec} must have {CORES} queues");
    assert!(
        matches!(port.spread, Spread::Software(_)),
        "{spec} cannot steer: {}",
        port.steering
    );
    assert!(port.steering.contains("cannot steer"), "{}", port.steering);
    eprintln!("{}", port.steering);
    let stacks = steer::mesh(CORES, port.spread.clone())
        .into_iter()
        .zip(pools)
        .enumerate()
        .map(|(i, (st, p))| {
            let mut c = StackConfig::with_addrs(vec![
                IpCidr::new(ENGINE_IP, 24),
                IpCidr::new(ENGINE_IP6, 64),
            ]);
            c.seed = Some(7 + i as u64);
            let mut s = Stack::new(port.queue(i as u16), p, c);
            s.set_steering(st);
            s
        })
        .collect();
    if let Some(tap) = tap {
        ns.wait_for_link(tap);
        kernel_addresses(ns, tap);
    }
    (port, stacks)
}

/// The kernel's addresses of both families on `ifname`.
fn kernel_addresses(ns: &Netns, ifname: &str) {
    ns.configure_peer(ifname, &format!("{KERNEL_IP}/24"), Some(KERNEL_MAC));
    ns.add_addr(ifname, &format!("{KERNEL_IP6}/64"));
}

/// Polls every stack and pumps each core's flows until every flow got `BYTES` back.
fn echo_all(stacks: &mut [Stack<DpdkQueue>], flows: &mut [Vec<Flow>], clock: &Clock) {
    let data = pattern(BYTES, 5);
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
    assert!(
        flows.iter().flatten().all(|f| f.got == data),
        "every flow gets its own bytes back, in order"
    );
}

fn close_all(port: Port, stacks: Vec<Stack<DpdkQueue>>) -> Vec<Counters> {
    let counters = stacks.iter().map(|s| s.counters()).collect();
    drop(stacks);
    port.close();
    counters
}

fn assert_crossed_without_loss(counters: &[Counters]) {
    let forwarded: u64 = counters.iter().map(|c| c.steer_forwarded).sum();
    let drops: u64 = counters.iter().map(|c| c.steer_drops).sum();
    assert!(forwarded > 0, "some frames crossed cores: {counters:?}");
    assert_eq!(drops, 0, "no frame was lost crossing cores");
    for c in counters {
        assert_eq!(c.tcp.estab_resets + c.tcp.attempt_fails, 0, "{c:?}");
    }
}

/// Each core opens `CONNS_PER_CORE` connections (half of each family) to the kernel echo
/// server over `spec`; each flow is owned by its core and every byte comes back.
fn active_opens(ns: &Netns, spec: &str, tap: Option<&str>) {
    kernel_echo(ns);
    let counters = ns.in_thread(|| {
        let (port, mut stacks) = setup(ns, spec, tap);
        let clock = Clock::new(engine::eal::init_for_tests());
        let mut flows: Vec<Vec<Flow>> = (0..CORES).map(|_| Vec::new()).collect();
        for (i, s) in stacks.iter_mut().enumerate() {
            s.poll(clock.now());
            for k in 0..CONNS_PER_CORE {
                let peer: IpAddr = if k % 2 == 0 {
                    KERNEL_IP.into()
                } else {
                    KERNEL_IP6.into()
                };
                let conn = s.connect(peer, ECHO_PORT, None).expect("connect");
                let flow = s.info(conn).unwrap().tuple;
                assert_eq!(s.flow_owner(&flow), Some(i as u16), "{flow:?} steers home");
                flows[i].push(Flow::new(conn));
            }
        }
        echo_all(&mut stacks, &mut flows, &clock);
        close_all(port, stacks)
    });
    assert_crossed_without_loss(&counters);
    for c in &counters {
        assert_eq!(c.tcp.active_opens, CONNS_PER_CORE as u64);
    }
}

#[test]
fn active_opens_of_both_families_are_owned_by_the_connecting_core() {
    let ns = Netns::with_ipv6();
    let tap = unique_name("stp");
    active_opens(&ns, &format!("tap:{tap}"), Some(&tap));
}

/// The same over net_af_packet with two queue pairs on a veth (one PACKET_FANOUT_HASH group:
/// the kernel picks the queue, so the port cannot steer either).
#[test]
fn over_af_packet_with_two_queue_pairs_too() {
    let ns = Netns::with_ipv6();
    let (eng, ker) = (unique_name("sae"), unique_name("sak"));
    ns.ip(&["link", "add", &eng, "type", "veth", "peer", "name", &ker]);
    ns.in_thread(|| common::ethtool::offloads_off(&ker));
    ns.ip(&["link", "set", "dev", &eng, "up"]);
    kernel_addresses(&ns, &ker);
    // As devargs: the `af_packet:` spec looks the interface up in /sys, which shows the
    // namespace /sys was mounted in, not this thread's.
    let spec = format!(
        "eal:net_af_packet_{},iface={eng},qpairs={CORES}",
        unique_name("s")
    );
    active_opens(&ns, &spec, None);
}

/// Kernel clients, one per `(engine address, kernel source port)` (`None`: the kernel's
/// choice; `Some(p)`: the namespace's port range is narrowed to `p` for that connect), each in
/// its own thread sending `BYTES` and reading the echo back.
fn kernel_clients(ns: &Netns, to: &[(IpAddr, Option<u16>)]) -> bool {
    let handles: Vec<_> = to
        .iter()
        .enumerate()
        .map(|(k, &(ip, sport))| {
            if let Some(p) = sport {
                let range = format!("net.ipv4.ip_local_port_range={p} {p}");
                ns.exec_ok(&["sysctl", "-qw", &range]);
            }
            let s = kernel_connect(ns, ip, ENGINE_PORT).expect("kernel connect");
            if let Some(p) = sport {
                assert_eq!(s.local_addr().unwrap().port(), p);
            }
            std::thread::spawn(move || {
                let data = pattern(BYTES, k as u64);
                let (got, _) = tcp::send_and_read_back(s, &data);
                got == data
            })
        })
        .collect();
    handles.into_iter().all(|h| h.join().unwrap())
}

/// A connection the engine echoes: bytes still to send back, end of input seen.
type EchoConn = (ConnId, Vec<u8>, bool);

/// Echoes on every accepted connection of listener `l` of stack `s`; counts accepts, each
/// checked to be on the core that owns its flow.
fn echo_step(
    s: &mut Stack<DpdkQueue>,
    core: usize,
    l: ListenerId,
    conns: &mut Vec<EchoConn>,
    buf: &mut [u8],
) -> usize {
    let mut accepted = 0;
    while s.poll_event().is_some() {}
    while let Some(c) = s.accept(l) {
        let flow = s.info(c).unwrap().tuple;
        assert_eq!(s.flow_owner(&flow), Some(core as u16), "{flow:?}");
        accepted += 1;
        conns.push((c, Vec::new(), false));
    }
    for (c, pending, eof) in conns.iter_mut().filter(|e| !e.2 || !e.1.is_empty()) {
        while let Ok(n) = s.recv(*c, buf) {
            if n == 0 {
                *eof = true;
                break;
            }
            pending.extend_from_slice(&buf[..n]);
        }
        let sent = s.send(*c, pending).unwrap_or(0);
        pending.drain(..sent);
        if *eof && pending.is_empty() {
            s.close(*c);
        }
    }
    accepted
}

/// Engine listeners on every core echo for the kernel clients that `clients` chooses once
/// the stacks are up; returns the counters and how many connections each core accepted.
fn serve_kernel_clients(
    ns: &Netns,
    tap: &str,
    clients: impl FnOnce(&mut [Stack<DpdkQueue>], &Clock) -> Vec<(IpAddr, Option<u16>)> + Send,
) -> (Vec<Counters>, Vec<usize>) {
    ns.in_thread(|| {
        let (port, mut stacks) = setup(ns, &format!("tap:{tap}"), Some(tap));
        let clock = Clock::new(engine::eal::init_for_tests());
        let ls: Vec<_> = stacks
            .iter_mut()
            .map(|s| s.listen(ENGINE_PORT, 128, None).expect("listen"))
            .collect();
        let to = clients(&mut stacks, &clock);
        let stop = AtomicBool::new(false);
        let mut owned = vec![0usize; usize::from(CORES)];
        std::thread::scope(|sc| {
            let clients = sc.spawn(|| {
                let ok = kernel_clients(ns, &to);
                stop.store(true, Ordering::Release);
                ok
            });
            let mut conns: Vec<Vec<EchoConn>> = vec![Vec::new(); usize::from(CORES)];
            let mut buf = vec![0; 65536];
            let start = Instant::now();
            while !stop.load(Ordering::Acquire) {
                assert!(start.elapsed() < Duration::from_secs(60), "echo stalled");
                for (i, s) in stacks.iter_mut().enumerate() {
                    s.poll(clock.now());
                    owned[i] += echo_step(s, i, ls[i], &mut conns[i], &mut buf);
                }
            }
            assert!(clients.join().unwrap(), "every kernel client got its echo");
        });
        (close_all(port, stacks), owned)
    })
}

#[test]
fn passive_opens_of_both_families_land_on_their_owner() {
    let ns = Netns::with_ipv6();
    let tap = unique_name("stq");
    let n = 2 * CONNS_PER_CORE;
    let (counters, owned) = serve_kernel_clients(&ns, &tap, |_, _| {
        (0..n)
            .map(|k| {
                let ip = if k % 2 == 0 {
                    IpAddr::from(ENGINE_IP)
                } else {
                    IpAddr::from(ENGINE_IP6)
                };
                (ip, None)
            })
            .collect()
    });
    assert_eq!(owned.iter().sum::<usize>(), n);
    assert!(
        owned.iter().all(|&n| n > 0),
        "both cores own some: {owned:?}"
    );
    assert_crossed_without_loss(&counters);
}

/// Four flows of `local`'s family from `peer` whose hash owner is core 1.
fn flows_of_core_1(stacks: &[Stack<DpdkQueue>], local: IpAddr, peer: IpAddr) -> Vec<FourTuple> {
    (20000..30000u16)
        .map(|p| FourTuple::new((local, ENGINE_PORT), (peer, p)))
        .filter(|f| stacks[1].flow_owner(f) == Some(1))
        .take(4)
        .collect()
}

/// Eight kernel clients (four per family) from source ports whose flows the hash gives to
/// core 1, all moved to core 0 by overrides issued on core 1: core 0 accepts every one,
/// whichever queue the kernel delivers their frames to, and core 1 none.
#[test]
fn overridden_flows_reach_their_new_owner_from_every_queue() {
    let ns = Netns::with_ipv6();
    let tap = unique_name("sto");
    let (counters, owned) = serve_kernel_clients(&ns, &tap, |stacks, clock| {
        let mut flows = flows_of_core_1(stacks, ENGINE_IP.into(), KERNEL_IP.into());
        flows.extend(flows_of_core_1(
            stacks,
            ENGINE_IP6.into(),
            KERNEL_IP6.into(),
        ));
        for f in &flows {
            stacks[1].override_flow(*f, 0).expect("override");
        }
        for s in stacks.iter_mut() {
            s.poll(clock.now());
        }
        for f in &flows {
            assert!(stacks.iter().all(|s| s.flow_owner(f) == Some(0)), "{f:?}");
        }
        flows
            .iter()
            .map(|f| (f.local_ip, Some(f.remote_port)))
            .collect()
    });
    eprintln!(
        "handed over: core 0 {}, core 1 {}",
        counters[0].steer_forwarded, counters[1].steer_forwarded
    );
    assert_eq!(owned, vec![8, 0], "every overridden flow on core 0");
    assert_eq!(counters[1].tcp.out_rsts, 0, "core 1 never answered them");
    let drops: u64 = counters.iter().map(|c| c.steer_drops).sum();
    assert_eq!(drops, 0);
}

/// `loadgen rpc --cores 2` on a two-queue tap against a kernel echo server (`serve echo
/// --stack kernel`) over IPv6: the two client cores join a steering mesh, so every reply
/// reaches the core that owns its connection: no errors, nothing lost between cores, and the
/// server saw every request (before, loadgen warned that replies could reach the wrong core).
#[test]
fn loadgen_with_two_cores_over_a_tap_loses_nothing() {
    let ns = Netns::with_ipv6();
    let mut srv = ns.spawn(
        common::serve_bin(),
        &["echo", "--stack", "kernel", "--listen", "7311"],
    );
    srv.wait_for_line(|l| l == "serve: ready");
    let tap = unique_name("stl");
    let json = std::env::temp_dir().join(format!("{}.json", unique_name("stl")));
    let (spec, path) = (format!("tap:{tap}"), json.to_str().unwrap().to_string());
    let (ip4, ip6) = (format!("{ENGINE_IP}/24"), format!("{ENGINE_IP6}/64"));
    let target = format!("[{KERNEL_IP6}]:7311");
    let args = [
        "rpc",
        "--port",
        &spec,
        "--ip",
        &ip4,
        "--ip",
        &ip6,
        "--target",
        &target,
        "--cores",
        "2",
        "--conns",
        "16",
        "--duration",
        "1",
        "--warmup",
        "1",
        "--json",
        &path,
    ];
    let lg = ns.spawn(env!("CARGO_BIN_EXE_loadgen"), &args);
    ns.wait_for_link(&tap);
    ns.configure_peer(&tap, &format!("{KERNEL_IP}/24"), Some(KERNEL_MAC));
    ns.add_addr(&tap, &format!("{KERNEL_IP6}/64"));
    let done = lg.wait();
    assert!(done.status.success(), "loadgen: {done:?}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("report")).expect("JSON");
    let _ = std::fs::remove_file(&json);
    let c = srv.stop().counters();
    let n = |p: &str| v.pointer(p).and_then(serde_json::Value::as_u64);
    eprintln!(
        "requests {:?}, handed over {:?}",
        n("/requests"),
        n("/engine_counters/SteerForwarded")
    );
    assert!(n("/requests").is_some_and(|r| r > 0), "{v:#}");
    assert_eq!(n("/errors"), Some(0), "{v:#}");
    assert_eq!(n("/engine_counters/SteerDrops"), Some(0), "{v:#}");
    assert_eq!(n("/engine_counters/TcpEstabResets"), Some(0), "{v:#}");
    assert_eq!(common::counter(&c, "ServerAccepted"), 16);
    assert_eq!(common::counter(&c, "ServerErrors"), 0);
    assert_eq!(
        n("/totals/requests_sent").map(|r| r * 64),
        Some(common::counter(&c, "ServerBytesIn")),
        "the server saw every request"
    );
}
