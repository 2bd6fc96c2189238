//! TCP checksums of frames built from mbuf chains whose segments before the last have odd
//! lengths, as the Linux kernel sees them, through every port kind that reaches the kernel
//! (issue "Bad TCP checksums on net_tap hang connections for good"):
//!
//! - **net_tap**, TSO and checksum offload on (the default). DPDK 22.11's tap sums each segment
//!   of a chain as if it started on a 16-bit word, so without the engine's rule
//!   (`DeviceCaps::tx_cksum_odd_chain_bug`, `tcp::frame::tx_csum_offload_safe`) such frames,
//!   and every retransmission of them, reach the kernel with bad checksums;
//! - **net_af_packet** on a veth: no offloads, so the engine's software checksum over the chain.
//!
//! net_memif is left out: nothing on the kernel's side speaks memif (it is a user-space
//! shared-memory protocol), and a memif port has no checksum offload either, so its frames take
//! the same software checksum that the af_packet tests check.
//!
//! The chains come from two places:
//! - `serve echo` hands the received mbufs back, gathered into one chain: kernel clients send
//!   1001-byte requests (TCP_NODELAY) pipelined 8 deep (chains of a few odd segments, mostly
//!   beyond one MSS) and 64 deep (units of up to 64 KiB: TSO frames built from odd pieces);
//! - an engine in this process sends crafted chains with `send_pkt` to a kernel sink: odd heads
//!   (headers in the headroom), odd middles, copy-break, TSO-sized, even ones, and seeded
//!   random shapes.
//!
//! Every test checks, on the kernel's side, that every byte arrived intact (compared with what
//! was sent) and that the kernel's `TcpInCsumErrors` (`InCsumErrors` of the `Tcp:` line of
//! /proc/net/snmp in the namespace) did not move. On tap it also checks that the engine took
//! its fallback (`TcpExtTxCsumOddChain`, `TcpExtTsoOddChainSplit`) and that chains the offload
//! handles still left as TSO frames.
//!
//! Timeouts only guard against hangs (a stalled echo fails the test with the figures).

mod common;
#[path = "common/tcp.rs"]
mod tcp;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use apps::clock::Clock;
use common::{Netns, counter, eal_args_any_cpu, serve_bin, unique_name};
use engine::buf::{Mempool, Pkt, PoolSizes, Pools};
use engine::dev::dpdk::{DpdkQueue, Port, PortConfig};
use engine::rand::Rng;
use engine::tcp::{State, TcpError};
use engine::{Stack, StackConfig};
use tcp::{
    ENGINE_IP, EngineHost, KERNEL_IP, KERNEL_MAC, ServePeer, accept_within, kernel_connect,
    kernel_listen, pattern,
};

const ECHO: u16 = 7;
/// The request size of the reproduction: odd, so every received segment that ends a
/// request has an odd length.
const REQ: usize = 1001;
/// Requests per connection.
const REQUESTS: usize = 4000;
const CONNS: usize = 4;
/// How long a client waits for a response before it reports the connection stalled.
const STALL: Duration = Duration::from_secs(10);

/// The kernel's `TcpInCsumErrors` in `ns`.
fn in_csum_errors(ns: &Netns) -> u64 {
    let text = ns.exec_ok(&["cat", "/proc/net/snmp"]);
    let mut tcp = text.lines().filter(|l| l.starts_with("Tcp:"));
    let (names, values) = (
        tcp.next().expect("Tcp: names in /proc/net/snmp"),
        tcp.next().expect("Tcp: values in /proc/net/snmp"),
    );
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "InCsumErrors")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("no Tcp InCsumErrors in /proc/net/snmp:\n{text}"))
}

/// One kernel client of `serve echo`: `REQUESTS` requests of `REQ` bytes, `depth` in flight,
/// each response compared with its request. Returns the bytes echoed intact, or what went
/// wrong (with the bytes echoed intact before it).
fn pipelined_client(ns: &Netns, id: usize, depth: usize) -> Result<usize, String> {
    let s = kernel_connect(ns, ENGINE_IP, ECHO).map_err(|e| format!("conn {id}: connect: {e}"))?;
    s.set_nodelay(true).expect("TCP_NODELAY");
    s.set_read_timeout(Some(STALL)).expect("read timeout");
    let stream = pattern(REQUESTS * REQ, 0xc5 + id as u64);
    let req = |k: usize| &stream[k * REQ..(k + 1) * REQ];
    let (mut w, mut r) = (&s, &s);
    for k in 0..depth.min(REQUESTS) {
        w.write_all(req(k))
            .map_err(|e| format!("conn {id}: write {k}: {e}"))?;
    }
    let mut buf = vec![0u8; REQ];
    for k in 0..REQUESTS {
        r.read_exact(&mut buf).map_err(|e| {
            format!(
                "conn {id}: response {k} of {REQUESTS}: {e} ({} bytes echoed intact before it)",
                k * REQ
            )
        })?;
        if buf != req(k) {
            return Err(format!("conn {id}: response {k} differs from its request"));
        }
        if k + depth < REQUESTS {
            w.write_all(req(k + depth))
                .map_err(|e| format!("conn {id}: write {}: {e}", k + depth))?;
        }
    }
    let _ = s.shutdown(Shutdown::Write);
    Ok(REQUESTS * REQ)
}

/// `CONNS` pipelined clients at once against `serve echo` behind `peer`; asserts every byte
/// intact and no checksum error on the kernel's side.
fn pipelined_echo(peer: &ServePeer, depth: usize) {
    let before = in_csum_errors(&peer.ns);
    let results: Vec<Result<usize, String>> = std::thread::scope(|sc| {
        let clients: Vec<_> = (0..CONNS)
            .map(|id| sc.spawn(move || pipelined_client(&peer.ns, id, depth)))
            .collect();
        clients
            .into_iter()
            .map(|c| c.join().expect("client thread"))
            .collect()
    });
    let errors = in_csum_errors(&peer.ns) - before;
    let intact: usize = results.iter().map(|r| *r.as_ref().unwrap_or(&0)).sum();
    let failed: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    eprintln!(
        "{} echo, {CONNS} conns x {REQUESTS} requests of {REQ} B pipelined {depth} deep: \
         {intact} of {} bytes echoed intact, kernel TcpInCsumErrors +{errors}",
        peer.tap,
        CONNS * REQUESTS * REQ
    );
    assert!(
        failed.is_empty() && errors == 0,
        "pipelined {depth} deep: kernel TcpInCsumErrors +{errors}, {intact} of {} bytes echoed \
         intact; {failed:?}",
        CONNS * REQUESTS * REQ
    );
}

/// Serve's counters after a run, with the checksum figures printed.
fn stop_and_report(peer: ServePeer) -> common::Counters {
    let c = peer.stop();
    let get = |n: &str| c.get(n).copied().unwrap_or(0);
    eprintln!(
        "serve: TcpOutSegs {}, TcpRetransSegs {}, TcpExtTsoFrames {}, TcpExtTxCsumOddChain {}, \
         TcpExtTsoOddChainSplit {}",
        get("TcpOutSegs"),
        get("TcpRetransSegs"),
        get("TcpExtTsoFrames"),
        get("TcpExtTxCsumOddChain"),
        get("TcpExtTsoOddChainSplit")
    );
    c
}

#[test]
fn tap_echo_of_odd_requests_pipelined_8_deep_reaches_the_kernel_intact() {
    let peer = ServePeer::start("echo", &[]);
    pipelined_echo(&peer, 8);
    let c = stop_and_report(peer);
    assert!(
        counter(&c, "TcpExtTxCsumOddChain") + counter(&c, "TcpExtTsoOddChainSplit") > 0,
        "the echo built chains the tap gets wrong, and the engine avoided its offload: {c:?}"
    );
}

#[test]
fn tap_echo_of_odd_requests_pipelined_64_deep_in_tso_frames_reaches_the_kernel_intact() {
    let peer = ServePeer::start("echo", &[]);
    pipelined_echo(&peer, 64);
    let c = stop_and_report(peer);
    assert!(
        counter(&c, "TcpExtTsoOddChainSplit") > 0,
        "units beyond one MSS with odd pieces were sent as ordinary frames: {c:?}"
    );
}

#[test]
fn af_packet_echo_of_odd_requests_pipelined_8_and_64_deep_reaches_the_kernel_intact() {
    let ns = Netns::new();
    let (eng, ker) = veth_pair(&ns);
    let port = format!("af_packet:{eng}");
    let ip = format!("{ENGINE_IP}/24");
    let eal = eal_args_any_cpu();
    let args = ["echo", "--port", &port, "--ip", &ip, "--all-counters", &eal];
    let mut serve = ns.spawn(serve_bin(), &args);
    let banner = serve.wait_for_line(|l| l.starts_with("serve: port"));
    serve.wait_for_line(|l| l == "serve: ready");
    assert!(
        banner.contains("(net_af_packet)") && banner.contains("offloads none"),
        "af_packet has no checksum offload: {banner}"
    );
    eprintln!("kernel side {ker}, engine on {banner}");
    let peer = ServePeer {
        serve,
        tap: eng,
        ns,
    };
    pipelined_echo(&peer, 8);
    pipelined_echo(&peer, 64);
    let c = stop_and_report(peer);
    assert_eq!(
        counter(&c, "TcpExtTxCsumOddChain"),
        0,
        "no offload to avoid"
    );
    assert_eq!(counter(&c, "TcpExtTsoOddChainSplit"), 0, "no TSO");
}

/// Chain shapes (segment lengths) the in-process engine sends, before the random ones.
const SHAPES: &[&[usize]] = &[
    // A 1-byte head goes into the headroom form: the frame's first segment ends one byte past
    // the headers.
    &[1, 1000],
    &[301, 1, 599],
    // Copy-break: one mbuf on the wire.
    &[3, 5, 7, 11, 13],
    &[255, 2, 300],
    &[1001, 1],
    // Beyond one MSS: TSO frames whose wire segments are built from odd pieces.
    &[1001, 1001],
    &[1001, 1001, 1001],
    &[1447, 1, 1448, 3, 1200],
    &[999; 64],
    // Even pieces: the offload (and TSO) stays on.
    &[1000, 1000],
    &[1000; 40],
    &[2, 1448, 1448],
];
/// Seeded random shapes after those.
const RANDOM_SHAPES: usize = 300;

/// Every shape, the fixed ones then seeded random ones (1 to 8 segments of 1 to 1500 bytes).
fn shapes() -> Vec<Vec<usize>> {
    let mut rng = Rng::new(0x0dd_c4a1);
    let mut all: Vec<Vec<usize>> = SHAPES.iter().map(|s| s.to_vec()).collect();
    for _ in 0..RANDOM_SHAPES {
        let segs = 1 + rng.below(8) as usize;
        all.push((0..segs).map(|_| 1 + rng.below(1500) as usize).collect());
    }
    all
}

/// A chain of one fresh mbuf per length in `lens`, holding `data` in order.
fn chain(pool: &Mempool, lens: &[usize], data: &[u8]) -> Pkt {
    let mut off = 0;
    let mut head: Option<Pkt> = None;
    for &n in lens {
        let seg = Pkt::from_slice(pool, &data[off..off + n]).expect("an mbuf for a segment");
        assert_eq!(seg.len(), n, "a segment fits one mbuf");
        off += n;
        match head.as_mut() {
            None => head = Some(seg),
            Some(h) => assert!(h.chain(seg).is_ok(), "chaining a segment"),
        }
    }
    let head = head.expect("at least one segment");
    assert_eq!(head.nb_segs(), lens.len());
    head
}

/// The engine in this process (`open` gives it a port in the calling thread's namespace) sends
/// every shape of [`shapes`] with `send_pkt` to a kernel sink, then closes. Checks the bytes
/// and the kernel's checksum errors; returns the engine's counters.
fn engine_sends_odd_chains(
    ns: &Netns,
    open: impl FnOnce() -> EngineHost + Send,
) -> OddChainCounters {
    const PORT: u16 = 7009;
    let shapes = shapes();
    let total: usize = shapes.iter().flatten().sum();
    let data = pattern(total, 0x51de);
    let listener = kernel_listen(ns, PORT);
    let before = in_csum_errors(ns);
    let ((got, sink_error), counters) = std::thread::scope(|sc| {
        let sink = sc.spawn(|| {
            let mut s = accept_within(&listener, 3 * STALL);
            s.set_read_timeout(Some(STALL)).expect("read timeout");
            let mut got = Vec::with_capacity(total);
            let r = s.read_to_end(&mut got);
            (got, r.err().map(|e| e.to_string()))
        });
        let counters = ns.in_thread(|| {
            let mut host = open();
            let c = host.connect(KERNEL_IP, PORT, None);
            let (mut next, mut off, mut pending) = (0usize, 0usize, None::<Pkt>);
            let mut acked = |st: &mut Stack<DpdkQueue>| -> Option<()> {
                loop {
                    let p = match pending.take() {
                        Some(p) => p,
                        None if next == shapes.len() => break,
                        None => {
                            let pool = st.pools().data;
                            let p = chain(&pool, &shapes[next], &data[off..]);
                            off += p.len();
                            next += 1;
                            p
                        }
                    };
                    match st.send_pkt(c, p) {
                        Ok(()) => {}
                        Err((TcpError::WouldBlock, p)) => {
                            pending = Some(p);
                            return None;
                        }
                        Err((e, _)) => panic!("send_pkt: {e}; {:?}", st.info(c)),
                    }
                }
                let i = st.info(c)?;
                (i.unsent_bytes == 0 && i.unacked_bytes == 0).then_some(())
            };
            // With a bad checksum the kernel never acknowledges: give up after a while and
            // report the figures below.
            let start = Instant::now();
            let sent = loop {
                host.poll();
                if acked(&mut host.stack).is_some() {
                    break true;
                }
                if start.elapsed() > 3 * STALL {
                    break false;
                }
            };
            if sent {
                host.stack.shutdown(c).expect("shutdown");
                host.run_until(
                    "FIN acknowledged",
                    Duration::from_secs(30),
                    Some(c),
                    |st, _| {
                        st.info(c)
                            .is_none_or(|i| i.snd_una == i.snd_nxt && i.state != State::FinWait1)
                            .then_some(())
                    },
                );
            }
            let counters = host.stack.counters();
            let info = host.stack.info(c);
            (
                sent.then_some(())
                    .ok_or_else(|| format!("not all acknowledged: {info:?}")),
                counters.get("TcpExtTxCsumOddChain").unwrap_or(0),
                counters.get("TcpExtTsoOddChainSplit").unwrap_or(0),
                counters.get("TcpExtTsoFrames").unwrap_or(0),
                counters.tcp.retrans_segs,
            )
        });
        (sink.join().expect("kernel sink"), counters)
    });
    let errors = in_csum_errors(ns) - before;
    let (sent, odd, split, tso, retrans) = counters;
    eprintln!(
        "{} chains ({total} B) with odd segments: kernel received {} B, TcpInCsumErrors \
         +{errors}; engine TcpExtTxCsumOddChain {odd}, TcpExtTsoOddChainSplit {split}, \
         TcpExtTsoFrames {tso}, TcpRetransSegs {retrans}",
        shapes.len(),
        got.len()
    );
    assert!(
        errors == 0 && sent.is_ok(),
        "kernel TcpInCsumErrors +{errors}, {} of {total} B received, engine TcpRetransSegs \
         {retrans}: {sent:?}",
        got.len()
    );
    assert_eq!(sink_error, None, "the kernel sink read until EOF");
    assert_eq!(got.len(), total, "the kernel received every byte");
    assert!(got == data, "the kernel received the bytes sent");
    OddChainCounters { odd, split, tso }
}

/// The engine's checksum counters after [`engine_sends_odd_chains`].
struct OddChainCounters {
    odd: u64,
    split: u64,
    tso: u64,
}

#[test]
fn tap_engine_sends_odd_chains_the_kernel_accepts() {
    let ns = Netns::new();
    let tap = unique_name("tk");
    let c = engine_sends_odd_chains(&ns, || {
        let host = EngineHost::open(&ns, &tap);
        let caps = host.stack.caps();
        assert!(
            caps.tx.tso && caps.tx.tcp_cksum && caps.tx_cksum_odd_chain_bug,
            "net_tap: TSO and checksum offload on, and the odd-chain rule: {caps:?}"
        );
        host
    });
    assert!(c.odd > 0, "odd chains took the software checksum");
    assert!(
        c.split > 0,
        "TSO units with odd pieces left as ordinary frames"
    );
    assert!(c.tso > 0, "TSO units with even pieces kept TSO");
}

#[test]
fn af_packet_engine_sends_odd_chains_the_kernel_accepts() {
    let ns = Netns::new();
    let (eng, _ker) = veth_pair(&ns);
    let c = engine_sends_odd_chains(&ns, || {
        let host = af_packet_host(&eng);
        let caps = host.stack.caps();
        assert!(
            !caps.tx.tcp_cksum && !caps.tx.tso && !caps.tx_cksum_odd_chain_bug,
            "net_af_packet has no checksum offload: {caps:?}"
        );
        host
    });
    assert_eq!((c.odd, c.split, c.tso), (0, 0, 0), "nothing offloaded");
}

/// A veth pair in `ns`: the engine's end (up, no address) and the kernel's end ([`KERNEL_IP`],
/// [`KERNEL_MAC`], checksum and segmentation offloads off so that the engine receives complete
/// checksums and MTU-sized frames, notes/kernel-peer-testing.md). Returns (engine's, kernel's).
fn veth_pair(ns: &Netns) -> (String, String) {
    let (eng, ker) = (unique_name("ce"), unique_name("ck"));
    ns.ip(&["link", "add", &eng, "type", "veth", "peer", "name", &ker]);
    ns.in_thread(|| common::ethtool::offloads_off(&ker));
    ns.ip(&["link", "set", "dev", &eng, "up"]);
    ns.configure_peer(&ker, &format!("{KERNEL_IP}/24"), Some(KERNEL_MAC));
    (eng, ker)
}

/// An engine stack in this process on `af_packet:IFNAME` (the calling thread must be in the
/// interface's namespace), as [`EngineHost::open`] does for a tap.
fn af_packet_host(ifname: &str) -> EngineHost {
    let eal = engine::eal::init_for_tests();
    let pools = Pools::create(&unique_name("kc"), &PoolSizes::default())
        .unwrap_or_else(|e| panic!("pools: {e}"));
    // As devargs: the `af_packet:` spec looks the interface up in /sys, which shows the
    // namespace /sys was mounted in, not this thread's (setns).
    let devargs = format!("eal:net_af_packet_{},iface={ifname}", unique_name("c"));
    let spec = devargs
        .parse()
        .unwrap_or_else(|e| panic!("port spec {devargs}: {e}"));
    let port = Port::open(eal, &spec, &PortConfig::new(pools.data))
        .unwrap_or_else(|e| panic!("opening {devargs}: {e}"));
    let mut cfg = StackConfig::new(ENGINE_IP, 24);
    cfg.seed = Some(u64::from(std::process::id()));
    let stack = Stack::new(port.queue(0), pools, cfg);
    EngineHost {
        stack,
        clock: Clock::new(eal),
        port,
        tap: ifname.to_string(),
        events: Vec::new(),
    }
}
