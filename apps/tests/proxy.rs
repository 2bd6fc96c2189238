//! The `proxy` binary between Linux kernel peers (issue 4, "the proxy carries 64 MiB intact
//! between a kernel client and a kernel server, each behind its own tap"):
//!
//! - a kernel client in namespace A sends 64 MiB through the proxy (two taps, two stacks) to a
//!   kernel echo server in namespace B and reads it back, SHA-256 equal; the proxy counts the
//!   bytes both ways and no errors;
//! - half-close passes through: the client uploads 32 MiB and shuts down writing; the server
//!   sees end of file, answers with the length and SHA-256 it received plus 32 KiB, and the
//!   client reads that whole reply; meanwhile the upstream stack's payload pool does not grow
//!   (the proxy queues the client's mbufs themselves, it never copies them into its own);
//! - 32 clients at once, each echoing 2 MiB through the proxy, all intact;
//! - `--cores 2` on one two-queue tap: 32 clients relayed intact, both cores accepted some (the
//!   kernel picks the queue), the upstream connections' replies steered to their core;
//! - a refused upstream resets the client (one tap, one stack), counted in the proxy's errors,
//!   and once the upstream listens the same proxy forwards;
//! - backpressure: clients upload to a server that does not read yet; the proxy holds their
//!   data back (its receive windows close) without running its payload pool dry, at the
//!   connection bound it derives from that pool, and everything arrives once the server reads;
//! - clients beyond `--max-conns` are reset, and a slot freed by a finished pipe is reused;
//! - bad arguments (`--listen 0`, an upstream port 0 among them) and an unroutable upstream end
//!   with one line and a non-zero exit.
//!
//! Transfer rates are printed (eprintln) for the record, never asserted on.

mod common;
#[path = "common/proxy.rs"]
mod proxy_peers;
#[path = "common/tcp.rs"]
mod tcp;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread::ScopedJoinHandle;
use std::time::{Duration, Instant};

use common::{Counters, counter, run};
use proxy_peers::{ProxyPeers, proxy_bin};
use tcp::{BULK_PATIENCE, accept_within, pattern, rate, read_retry, send_and_read_back, sha256};

const MIB: usize = 1 << 20;

/// Counters that must stay zero on a clean link, for each stack (`prefix`: `Client`,
/// `Upstream`, or empty with one stack).
fn assert_clean(c: &Counters, prefix: &str) {
    for name in [
        "TcpEstabResets",
        "TcpAttemptFails",
        "TcpInErrs",
        "TcpExtTCPAbortOnData",
        "TcpExtTCPAbortOnClose",
        "TcpExtTCPAbortOnTimeout",
        "TcpExtTxNoBuf",
        "TxDropped",
    ] {
        let n = format!("{prefix}{name}");
        assert_eq!(counter(c, &n), 0, "{n}: {c:?}");
    }
}

/// The proxy statistics of a pipe run that ended well.
fn assert_pipes_ok(c: &Counters, pipes: u64) {
    assert_eq!(counter(c, "ProxyAccepted"), pipes, "{c:?}");
    assert_eq!(counter(c, "ProxyUpstreamConnected"), pipes, "{c:?}");
    assert_eq!(counter(c, "ProxyCompleted"), pipes, "{c:?}");
    assert_eq!(counter(c, "ProxyActive"), 0, "{c:?}");
    assert_eq!(counter(c, "ProxyErrors"), 0, "{c:?}");
    assert_eq!(counter(c, "ProxyHalfCloses"), 2 * pipes, "{c:?}");
}

/// A line of the counters worth a look, for the record.
fn notable(c: &Counters, names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("{n} {}", c.get(*n).map_or("?".into(), |v| v.to_string())))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A kernel echo server for one connection: reads and writes back until end of file, then
/// closes. Returns the bytes echoed.
fn echo_once<'s>(
    sc: &'s std::thread::Scope<'s, '_>,
    l: std::net::TcpListener,
) -> ScopedJoinHandle<'s, usize> {
    sc.spawn(move || echo(accept_within(&l, Duration::from_secs(60))))
}

/// [`echo`] on a thread of its own.
fn echo_once_on<'s>(
    sc: &'s std::thread::Scope<'s, '_>,
    s: TcpStream,
) -> ScopedJoinHandle<'s, usize> {
    sc.spawn(move || echo(s))
}

/// Reads and writes back until end of file, then closes; returns the bytes echoed.
fn echo(mut s: TcpStream) -> usize {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0;
    loop {
        let n = read_retry(&mut s, &mut buf).expect("kernel server reads");
        if n == 0 {
            return total;
        }
        s.write_all(&buf[..n]).expect("kernel server writes back");
        total += n;
    }
}

/// `conns` kernel clients of the proxy, connected now, each on a thread of its own sending
/// `len` bytes of pattern `seed + i`, reading the echo back and asserting it intact.
fn echo_clients<'s>(
    sc: &'s std::thread::Scope<'s, '_>,
    peers: &ProxyPeers,
    conns: usize,
    len: usize,
    seed: u64,
) -> Vec<ScopedJoinHandle<'s, ()>> {
    (0..conns)
        .map(|i| {
            let s = peers
                .connect()
                .expect("kernel client connects to the proxy");
            sc.spawn(move || {
                let data = pattern(len, seed + i as u64);
                let (got, _) = send_and_read_back(s, &data);
                assert_eq!(got.len(), len, "client {i}: the whole echo came back");
                assert!(got == data, "client {i}: the echo equals what was sent");
            })
        })
        .collect()
}

/// `conns` kernel clients at once, each echoing `len` bytes (pattern `seed + i`) through the
/// proxy to a kernel echo server on `port` of the upstream namespace; every echo is checked
/// intact. Returns the bytes the server echoed.
fn echo_through(peers: &ProxyPeers, port: u16, conns: usize, len: usize, seed: u64) -> usize {
    let listener = peers.listen(port);
    std::thread::scope(|sc| {
        let server = sc.spawn(|| {
            let echoers: Vec<_> = (0..conns)
                .map(|_| echo_once_on(sc, accept_within(&listener, Duration::from_secs(60))))
                .collect();
            echoers.into_iter().map(|h| h.join().expect("echoer")).sum()
        });
        for c in echo_clients(sc, peers, conns, len, seed) {
            c.join().expect("client");
        }
        server.join().expect("server")
    })
}

/// Connects a kernel client to the proxy and expects it to be reset (or to see end of file)
/// without sending anything. The reset may come so soon that `connect` itself reports it.
fn expect_reset(peers: &ProxyPeers, who: &str) {
    let mut s = match peers.connect() {
        Ok(s) => s,
        Err(e) if e.kind() == ErrorKind::ConnectionReset => return,
        Err(e) => panic!("{who}: connect: {e}"),
    };
    let mut buf = [0u8; 64];
    match read_retry(&mut s, &mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("{who} should see a reset (or end of file), got {other:?}"),
    }
}

/// Shuts down writing on `s` and reads until end of file.
fn finish(s: TcpStream) {
    s.shutdown(Shutdown::Write).expect("shutdown(SHUT_WR)");
    let mut rest = Vec::new();
    (&s).read_to_end(&mut rest).expect("end of file");
}

#[test]
fn proxy_carries_64_mib_intact_between_kernel_peers_on_two_taps() {
    const LEN: usize = 64 * MIB;
    const PORT: u16 = 7007;
    let peers = ProxyPeers::start(true, PORT);
    let listener = peers.listen(PORT);
    let data = pattern(LEN, 41);
    let want = sha256(&data);

    let (got, took, echoed) = std::thread::scope(|sc| {
        let server = echo_once(sc, listener);
        let s = peers
            .connect()
            .expect("kernel client connects to the proxy");
        let (got, took) = send_and_read_back(s, &data);
        (got, took, server.join().expect("server"))
    });
    eprintln!(
        "kernel A -> proxy (2 taps) -> kernel echo B: {} MiB each way in {took:.2?}: {} each way",
        LEN / MIB,
        rate(LEN, took)
    );
    assert!(took < BULK_PATIENCE, "hang guard: {took:?}");
    assert_eq!(echoed, LEN, "the server received every byte");
    assert_eq!(
        got.len(),
        LEN,
        "the whole echo came back before end of file"
    );
    assert_eq!(sha256(&got), want, "what came back equals what was sent");

    let c = peers.stop();
    eprintln!(
        "proxy: {}",
        notable(
            &c,
            &[
                "ProxyMbufsToUpstream",
                "ProxyMbufsToClient",
                "ClientTcpRetransSegs",
                "UpstreamTcpRetransSegs",
                "ClientTcpExtTsoFrames",
                "UpstreamTcpExtTsoFrames",
                "ClientPoolDataBase",
                "ClientPoolDataPeak",
                "UpstreamPoolDataBase",
                "UpstreamPoolDataPeak",
            ]
        )
    );
    assert_pipes_ok(&c, 1);
    assert_eq!(counter(&c, "ProxyBytesToUpstream"), LEN as u64, "{c:?}");
    assert_eq!(counter(&c, "ProxyBytesToClient"), LEN as u64, "{c:?}");
    assert_eq!(counter(&c, "ClientTcpPassiveOpens"), 1, "{c:?}");
    assert_eq!(counter(&c, "UpstreamTcpActiveOpens"), 1, "{c:?}");
    assert_clean(&c, "Client");
    assert_clean(&c, "Upstream");
}

#[test]
fn proxy_carries_ipv4_clients_to_an_ipv6_upstream_intact() {
    const LEN: usize = 8 * MIB;
    const CONNS: usize = 4;
    const PORT: u16 = 7013;
    let peers = ProxyPeers::start_v6_upstream(PORT);
    let listener = peers.listen(PORT);
    let (echoed, peers_seen) = std::thread::scope(|sc| {
        // The kernel server (IPv6 only) echoes each client and notes whom it accepted.
        let server = sc.spawn(|| {
            let accepted: Vec<_> = (0..CONNS)
                .map(|_| {
                    let s = accept_within(&listener, Duration::from_secs(60));
                    let from = s.peer_addr().expect("peer address");
                    (echo_once_on(sc, s), from)
                })
                .collect();
            let seen: Vec<_> = accepted.iter().map(|(_, from)| *from).collect();
            let echoed: usize = accepted
                .into_iter()
                .map(|(h, _)| h.join().expect("echoer"))
                .sum();
            (echoed, seen)
        });
        for c in echo_clients(sc, &peers, CONNS, LEN, 300) {
            c.join().expect("client");
        }
        server.join().expect("server")
    });
    assert_eq!(echoed, CONNS * LEN, "the IPv6 server received every byte");
    for from in &peers_seen {
        assert_eq!(
            from.ip(),
            std::net::IpAddr::V6(proxy_peers::B_PROXY6),
            "the proxy connected from its IPv6 upstream address: {peers_seen:?}"
        );
    }
    let c = peers.stop();
    eprintln!(
        "IPv4 clients -> proxy -> [{}]:{PORT}: {CONNS} x {} MiB echoed intact; {}",
        proxy_peers::B_KERNEL6,
        LEN / MIB,
        notable(
            &c,
            &[
                "ClientIpInDelivers",
                "UpstreamIp6OutRequests",
                "UpstreamIpOutRequests"
            ]
        )
    );
    assert_pipes_ok(&c, CONNS as u64);
    assert_eq!(counter(&c, "ProxyBytesToUpstream"), (CONNS * LEN) as u64);
    assert_eq!(counter(&c, "ProxyBytesToClient"), (CONNS * LEN) as u64);
    assert!(counter(&c, "UpstreamIp6OutRequests") > 0, "{c:?}");
    assert_eq!(
        counter(&c, "UpstreamIpOutRequests"),
        0,
        "nothing upstream over IPv4: {c:?}"
    );
    assert_eq!(
        counter(&c, "ClientIp6InReceives"),
        0,
        "clients over IPv4 only: {c:?}"
    );
    assert_clean(&c, "Client");
    assert_clean(&c, "Upstream");
}

#[test]
fn proxy_passes_half_close_through_and_forwards_without_copying() {
    const LEN: usize = 32 * MIB;
    const TAIL: usize = 32 * 1024;
    const PORT: u16 = 7008;
    let peers = ProxyPeers::start(true, PORT);
    let listener = peers.listen(PORT);
    let data = pattern(LEN, 42);
    let tail = pattern(TAIL, 43);
    let want = format!("{LEN} {}\n", sha256(&data));

    let (reply, took, server_got) = std::thread::scope(|sc| {
        // Reads to end of file (which only the client's shutdown can cause), then answers.
        let server = sc.spawn(|| {
            let mut s = accept_within(&listener, Duration::from_secs(60));
            let mut got = Vec::with_capacity(LEN);
            s.read_to_end(&mut got).expect("kernel server reads to EOF");
            let line = format!("{} {}\n", got.len(), sha256(&got));
            s.write_all(line.as_bytes()).expect("server answers");
            s.write_all(&tail).expect("server answers");
            got.len()
        });
        let mut s = peers
            .connect()
            .expect("kernel client connects to the proxy");
        let start = Instant::now();
        s.write_all(&data).expect("client uploads");
        s.shutdown(Shutdown::Write).expect("shutdown(SHUT_WR)");
        let mut reply = Vec::new();
        s.read_to_end(&mut reply)
            .expect("client reads the reply after its shutdown");
        (reply, start.elapsed(), server.join().expect("server"))
    });
    eprintln!(
        "kernel A -> proxy (2 taps) -> kernel sink B: {} MiB in {took:.2?}: {}",
        LEN / MIB,
        rate(LEN, took)
    );
    assert_eq!(
        server_got, LEN,
        "the server saw end of file after every byte"
    );
    assert_eq!(reply.len(), want.len() + TAIL, "the whole reply arrived");
    assert_eq!(
        String::from_utf8_lossy(&reply[..want.len()]),
        want,
        "the server received exactly what the client sent"
    );
    assert!(
        reply[want.len()..] == tail[..],
        "the reply's body is intact"
    );

    let c = peers.stop();
    let (base, peak) = (
        counter(&c, "UpstreamPoolDataBase"),
        counter(&c, "UpstreamPoolDataPeak"),
    );
    let (cbase, cpeak) = (
        counter(&c, "ClientPoolDataBase"),
        counter(&c, "ClientPoolDataPeak"),
    );
    eprintln!(
        "data pool growth: client stack {} mbufs, upstream stack {} mbufs; {}",
        cpeak - cbase,
        peak - base,
        notable(
            &c,
            &[
                "ProxyMbufsToUpstream",
                "UpstreamTcpExtTxInHeadroom",
                "UpstreamTcpExtTxHeaderMbuf"
            ]
        )
    );
    assert_pipes_ok(&c, 1);
    assert_eq!(counter(&c, "ProxyBytesToUpstream"), LEN as u64, "{c:?}");
    assert_eq!(
        counter(&c, "ProxyBytesToClient"),
        (want.len() + TAIL) as u64,
        "{c:?}"
    );
    // 32 MiB left through the upstream stack. Copies would sit in its payload pool until the
    // server acknowledged them (a 1 MiB send buffer: over 500 mbufs); the client's own mbufs
    // are what it queued. What the upstream pool held were the server's ACKs and its short
    // reply (about 25 mbufs).
    assert!(
        peak - base < 256,
        "the upstream stack's payload pool grew by {} mbufs: {c:?}",
        peak - base
    );
    assert!(
        counter(&c, "ProxyMbufsToUpstream") >= (LEN / 2048) as u64,
        "{c:?}"
    );
    assert_clean(&c, "Client");
    assert_clean(&c, "Upstream");
}

#[test]
fn proxy_carries_32_concurrent_connections_intact() {
    const CONNS: usize = 32;
    const LEN: usize = 2 * MIB;
    const PORT: u16 = 7010;
    let peers = ProxyPeers::start(true, PORT);
    let start = Instant::now();
    let echoed = echo_through(&peers, PORT, CONNS, LEN, 100);
    let took = start.elapsed();
    eprintln!(
        "{CONNS} clients x {} MiB echoed through the proxy in {took:.2?}: {} each way",
        LEN / MIB,
        rate(CONNS * LEN, took)
    );
    assert_eq!(echoed, CONNS * LEN);
    let c = peers.stop();
    eprintln!(
        "proxy: {}",
        notable(
            &c,
            &[
                "ProxyBlocked",
                "ClientTcpRetransSegs",
                "UpstreamTcpRetransSegs",
                "ClientTxDropped",
                "UpstreamTxDropped",
                "ClientPoolDataPeak",
                "UpstreamPoolDataPeak",
            ]
        )
    );
    assert_pipes_ok(&c, CONNS as u64);
    assert_eq!(counter(&c, "ProxyBytesToUpstream"), (CONNS * LEN) as u64);
    assert_eq!(counter(&c, "ProxyBytesToClient"), (CONNS * LEN) as u64);
}

#[test]
fn proxy_on_two_cores_relays_and_both_cores_accept() {
    const CONNS: usize = 32;
    const LEN: usize = 256 * 1024;
    const PORT: u16 = 7013;
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    let lcores = format!("--eal-args=--lcores=(0-1)@(0-{})", n - 1);
    let peers = ProxyPeers::start_with(false, PORT, &["--cores", "2", &lcores]);
    assert_eq!(echo_through(&peers, PORT, CONNS, LEN, 300), CONNS * LEN);
    let c = peers.stop();
    assert_pipes_ok(&c, CONNS as u64);
    let (a0, a1) = (
        counter(&c, "Core0ProxyAccepted"),
        counter(&c, "Core1ProxyAccepted"),
    );
    assert_eq!(a0 + a1, CONNS as u64, "the cores' counts add up");
    assert!(a0 > 0 && a1 > 0, "both cores accepted: {a0} and {a1}");
    assert_clean(&c, "");
    assert_eq!(counter(&c, "SteerDrops"), 0, "no frame lost crossing cores");
}

#[test]
fn proxy_holds_back_a_fast_client_for_a_slow_upstream_without_running_dry() {
    const LEN: usize = 2 * MIB;
    const PORT: u16 = 7012;
    // A small pool: the proxy admits only as many pipes as it holds with every buffer full.
    let peers = ProxyPeers::start_with(false, PORT, &["--mbufs", "8191"]);
    let banner = peers.proxy.stdout_so_far();
    let conns: usize = banner
        .split("at most ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no connection bound in the banner: {banner}"));
    assert!(conns >= 2, "{banner}");
    let listener = peers.listen(PORT);
    std::thread::scope(|sc| {
        // The server reads nothing for a while: the clients' data backs up in the proxy.
        let server = sc.spawn(|| {
            let streams: Vec<_> = (0..conns)
                .map(|_| accept_within(&listener, Duration::from_secs(60)))
                .collect();
            std::thread::sleep(Duration::from_secs(2));
            let readers: Vec<_> = streams
                .into_iter()
                .map(|mut s| {
                    sc.spawn(move || {
                        let mut got = Vec::with_capacity(LEN);
                        s.read_to_end(&mut got).expect("server reads");
                        sha256(&got)
                    })
                })
                .collect();
            readers
                .into_iter()
                .map(|r| r.join().expect("reader"))
                .collect::<Vec<_>>()
        });
        let clients: Vec<_> = (0..conns)
            .map(|i| {
                let mut s = peers.connect().expect("connect");
                sc.spawn(move || {
                    let data = pattern(LEN, 200 + i as u64);
                    s.write_all(&data).expect("client uploads");
                    finish(s);
                    sha256(&data)
                })
            })
            .collect();
        let mut sent: Vec<_> = clients
            .into_iter()
            .map(|c| c.join().expect("client"))
            .collect();
        let mut got = server.join().expect("server");
        sent.sort();
        got.sort();
        assert_eq!(got, sent, "every upload arrived intact");
    });
    let c = peers.stop();
    eprintln!(
        "{conns} pipes: {}",
        notable(
            &c,
            &[
                "ProxyBlocked",
                "PoolDataBase",
                "PoolDataPeak",
                "PortRxNoMbuf"
            ]
        )
    );
    assert_pipes_ok(&c, conns as u64);
    assert!(
        counter(&c, "ProxyBlocked") > 0,
        "backpressure was exercised: {c:?}"
    );
    assert!(
        counter(&c, "PoolDataPeak") < 8191,
        "the pool never ran dry: {c:?}"
    );
    assert_eq!(counter(&c, "PortRxNoMbuf"), 0, "{c:?}");
}

#[test]
fn proxy_resets_clients_beyond_max_conns_and_reuses_freed_slots() {
    const PORT: u16 = 7011;
    let peers = ProxyPeers::start_with(false, PORT, &["--max-conns", "2"]);
    let listener = peers.listen(PORT);
    std::thread::scope(|sc| {
        let server = sc.spawn(|| {
            (0..3)
                .map(|_| echo_once_on(sc, accept_within(&listener, Duration::from_secs(60))))
                .collect::<Vec<_>>()
        });
        // Two pipes, both open (an echo round trip proves each reached the server).
        let mut open: Vec<TcpStream> = (0..2)
            .map(|_| {
                let mut s = peers.connect().expect("connect");
                s.write_all(b"ping").expect("write");
                let mut b = [0u8; 4];
                s.read_exact(&mut b).expect("echo");
                s
            })
            .collect();
        // A third client finds no slot: the proxy accepts it and resets it at once.
        expect_reset(&peers, "the client beyond --max-conns");
        // One pipe finishes; its slot serves the next client.
        finish(open.remove(0));
        let (got, _) = send_and_read_back(peers.connect().expect("connect"), b"again");
        assert_eq!(got, b"again", "a freed slot is reused");
        // The client sees end of file only once the proxy has shut down both flows and closed
        // the pipe, so the statistics below are final.
        open.into_iter().for_each(finish);
        for h in server.join().expect("server") {
            h.join().expect("echoer");
        }
    });
    let c = peers.stop();
    assert_eq!(counter(&c, "ProxyAccepted"), 4, "{c:?}");
    assert_eq!(counter(&c, "ProxyErrNoSlot"), 1, "{c:?}");
    assert_eq!(counter(&c, "ProxyErrors"), 1, "{c:?}");
    assert_eq!(counter(&c, "ProxyUpstreamConnected"), 3, "{c:?}");
    assert_eq!(counter(&c, "ProxyActive"), 0, "{c:?}");
}

#[test]
fn one_port_proxy_resets_clients_of_a_refusing_upstream_then_forwards() {
    const PORT: u16 = 7009;
    const LEN: usize = MIB;
    let peers = ProxyPeers::start(false, PORT);

    // Nothing listens upstream: the kernel refuses the proxy's SYN, the proxy resets the client.
    expect_reset(&peers, "the client of a refusing upstream");

    // Once the upstream listens, the same proxy (one stack for both sides) forwards.
    let listener = peers.listen(PORT);
    let data = pattern(LEN, 44);
    let (got, echoed) = std::thread::scope(|sc| {
        let server = echo_once(sc, listener);
        let s = peers
            .connect()
            .expect("kernel client connects to the proxy");
        let (got, _) = send_and_read_back(s, &data);
        (got, server.join().expect("server"))
    });
    assert_eq!(echoed, LEN);
    assert_eq!(sha256(&got), sha256(&data), "echo through one stack intact");

    let c = peers.stop();
    assert_eq!(counter(&c, "ProxyAccepted"), 2, "{c:?}");
    assert_eq!(counter(&c, "ProxyErrRefused"), 1, "{c:?}");
    assert_eq!(counter(&c, "ProxyErrors"), 1, "{c:?}");
    assert_eq!(counter(&c, "ProxyCompleted"), 1, "{c:?}");
    assert_eq!(counter(&c, "ProxyActive"), 0, "{c:?}");
    assert_eq!(counter(&c, "ProxyBytesToUpstream"), LEN as u64, "{c:?}");
    assert_eq!(counter(&c, "ProxyBytesToClient"), LEN as u64, "{c:?}");
    assert_eq!(
        counter(&c, "TcpAttemptFails"),
        1,
        "the refused connect: {c:?}"
    );
    assert!(counter(&c, "TcpOutRsts") >= 1, "the client's reset: {c:?}");
    assert_eq!(counter(&c, "TcpPassiveOpens"), 2, "{c:?}");
    assert_eq!(counter(&c, "TcpActiveOpens"), 2, "{c:?}");
}

#[test]
fn proxy_rejects_bad_arguments_and_unroutable_upstreams_with_one_line() {
    let base = [
        "--port",
        "tap:pxnever0",
        "--ip",
        "10.1.0.2/24",
        "--listen",
        "8080",
    ];
    let cases: &[(&[&str], i32, &[&str])] = &[
        (&["--upstream", "10.1.0.1"], 2, &["10.1.0.1"]),
        (
            &["--upstream", "10.1.0.1:80", "--upstream-port", "tap:x"],
            2,
            &["--upstream-ip"],
        ),
        (&["--upstream", "10.9.0.1:80"], 1, &["10.9.0.1", "gateway"]),
        (
            &["--upstream", "10.1.0.1:80", "--mbufs", "10"],
            1,
            &["mbufs"],
        ),
        (
            &["--upstream", "[fd01::1]:80"],
            1,
            &[
                "[fd01::1]:80",
                "is IPv6 but no --ip is IPv6",
                "--ip fd01::2/64",
            ],
        ),
        (
            &["--upstream", "[fd09::1]:80", "--ip", "fd01::2/64"],
            1,
            &["[fd09::1]:80", "fd01::2/64", "no IPv6 gateway"],
        ),
        (
            &[
                "--upstream",
                "[fd01::1]:80",
                "--upstream-port",
                "tap:pxnever1",
                "--upstream-ip",
                "10.2.0.2/24",
            ],
            1,
            &[
                "is IPv6 but no --upstream-ip is IPv6",
                "--upstream-ip fd01::2/64",
            ],
        ),
    ];
    let no_listen = &base[..4];
    let port_0: &[(&[&str], i32, &[&str])] = &[
        (
            &["--listen", "0", "--upstream", "10.1.0.1:80"],
            2,
            &["--listen", "'0'", "1..=65535"],
        ),
        (
            &["--listen", "8080", "--upstream", "10.1.0.1:0"],
            2,
            &["--upstream 10.1.0.1:0 has port 0"],
        ),
    ];
    let cases = cases.iter().map(|(e, c, w)| (base.as_slice(), *e, c, w));
    let port_0 = port_0.iter().map(|(e, c, w)| (no_listen, *e, c, w));
    for (base, extra, code, words) in cases.chain(port_0) {
        let mut args: Vec<&str> = base.to_vec();
        args.extend_from_slice(extra);
        let out = run(proxy_bin(), &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(out.status.code(), Some(*code), "{args:?}: {stderr}");
        assert_eq!(lines.len(), 1, "one line for {args:?}: {stderr}");
        assert!(lines[0].starts_with("proxy: "), "{stderr}");
        for w in *words {
            assert!(lines[0].contains(w), "{args:?}: {w:?} in {stderr}");
        }
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
