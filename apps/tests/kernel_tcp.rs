//! TCP with the Linux kernel as the peer (issue 3, "must show"), over net_tap in a private
//! network namespace per test:
//!
//! - a kernel client sends 64 MiB to `serve echo` and reads it back, SHA-256 equal;
//! - an engine client (a `Stack` in this process, on a tap it creates in the namespace) sends
//!   64 MiB to a kernel echo server and reads it back, SHA-256 equal;
//! - 1,000 sequential short connections from the kernel to `serve echo`, each counted by serve;
//! - half-close from each side: the kernel shuts down writing and still reads the echo, then
//!   EOF; the engine shuts down writing and still receives the kernel's data after its FIN;
//! - a connect to a closed engine port gets ECONNREFUSED, and serve counts the RST it sent;
//! - `curl` fetches `serve http`'s body, three times on one keep-alive connection and once
//!   with HTTP/1.0;
//! - `serve http` with `--ip` given for both families: `curl -6` and `curl -4` fetch from the
//!   same process on the same port at the same time.
//!
//! Transfer rates are printed (eprintln) for the record, never asserted on.

mod common;
#[path = "common/tcp.rs"]
mod tcp;

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use common::{Netns, counter, unique_name};
use engine::tcp::State;
use tcp::{
    BULK_PATIENCE, ENGINE_IP, ENGINE_IP6, EngineHost, KERNEL_IP, ServePeer, accept_within,
    kernel_listen, pattern, rate, read_retry, send_and_read_back, sha256,
};

const MIB: usize = 1 << 20;
const ECHO: u16 = 7;

/// The counters every test expects to stay zero on a clean link.
fn assert_no_failures(c: &common::Counters) {
    for name in [
        "TcpEstabResets",
        "TcpAttemptFails",
        "TcpInErrs",
        "TcpExtTCPAbortOnData",
        "TcpExtTCPAbortOnClose",
        "TcpExtTCPAbortOnTimeout",
        "ServerErrors",
    ] {
        assert_eq!(counter(c, name), 0, "{name}: {c:?}");
    }
}

/// The counters worth a look after a bulk transfer, as one line (for the record).
fn notable(get: impl Fn(&str) -> Option<u64>) -> String {
    [
        "TcpInSegs",
        "TcpOutSegs",
        "TcpRetransSegs",
        "TcpExtTCPTimeouts",
        "TcpExtTCPFastRetrans",
        "TcpExtTsoFrames",
        "TcpExtTsoWireSegs",
        "TcpExtTxInHeadroom",
        "TcpExtTxHeaderMbuf",
        "TcpExtTCPSackRecovery",
        "TcpExtTCPLossProbes",
        "TcpExtTCPOFOQueue",
        "TxDropped",
    ]
    .iter()
    .map(|n| format!("{n} {}", get(n).map_or("?".into(), |v| v.to_string())))
    .collect::<Vec<_>>()
    .join(", ")
}

#[test]
fn kernel_client_echoes_64_mib_through_serve() {
    const LEN: usize = 64 * MIB;
    let peer = ServePeer::start("echo", &[]);
    let data = pattern(LEN, 1);
    let want = sha256(&data);

    let s = peer.connect(ECHO).expect("kernel connects to serve echo");
    let (got, took) = send_and_read_back(s.try_clone().expect("clone"), &data);
    eprintln!(
        "kernel -> serve echo: {} MiB each way in {took:.2?}: {}",
        LEN / MIB,
        rate(LEN, took)
    );
    assert_eq!(got.len(), LEN, "the whole echo came back before EOF");
    assert_eq!(sha256(&got), want, "echoed bytes equal the sent bytes");
    drop(s);

    let c = peer.stop();
    eprintln!("serve: {}", notable(|n| c.get(n).copied()));
    assert_eq!(counter(&c, "TcpPassiveOpens"), 1, "{c:?}");
    assert_eq!(counter(&c, "ServerBytesIn"), LEN as u64, "{c:?}");
    assert_eq!(counter(&c, "ServerBytesOut"), LEN as u64, "{c:?}");
    assert_no_failures(&c);
}

#[test]
fn engine_client_echoes_64_mib_through_a_kernel_server() {
    const LEN: usize = 64 * MIB;
    const PORT: u16 = 7007;
    let ns = Netns::new();
    let tap = unique_name("te");
    let listener = kernel_listen(&ns, PORT);
    let data = pattern(LEN, 2);
    let want = sha256(&data);

    std::thread::scope(|sc| {
        // The kernel echo server: read, write back, until EOF; then close.
        let server = sc.spawn(|| {
            let mut s = accept_within(&listener, Duration::from_secs(60));
            let mut buf = vec![0u8; 256 * 1024];
            let mut total = 0usize;
            loop {
                let n = read_retry(&mut s, &mut buf).expect("kernel server reads");
                if n == 0 {
                    break;
                }
                s.write_all(&buf[..n]).expect("kernel server writes back");
                total += n;
            }
            total
        });

        let (got_sha, got_len, took) = ns.in_thread(|| {
            let mut host = EngineHost::open(&ns, &tap);
            let start = Instant::now();
            let c = host.connect(KERNEL_IP, PORT, None);
            let (mut sent, mut got) = (0usize, 0usize);
            let mut hasher = sha2::Sha256::default();
            let mut buf = vec![0u8; 64 * 1024];
            host.run_until("echo 64 MiB", BULK_PATIENCE, Some(c), |st, _| {
                while sent < LEN {
                    let n = EngineHost::send_some(st, c, &data[sent..]);
                    if n == 0 {
                        break;
                    }
                    sent += n;
                }
                let eof = EngineHost::recv_all(st, c, &mut buf, |b| {
                    sha2::Digest::update(&mut hasher, b);
                    got += b.len();
                });
                assert!(!eof || got == LEN, "early EOF after {got} bytes");
                (got >= LEN).then_some(())
            });
            let took = start.elapsed();
            // Close: the kernel sees EOF, closes too; we wait for our side to finish.
            host.stack.close(c);
            host.run_until("close", Duration::from_secs(30), None, |st, _| {
                (st.counters().time_wait == 1 || st.tcp().connections() == 0).then_some(())
            });
            let c = host.stack.counters();
            eprintln!("engine client: {}", notable(|n| c.get(n)));
            assert_eq!(c.tcp.estab_resets, 0, "{c:?}");
            assert_eq!(c.tcp.attempt_fails, 0, "{c:?}");
            (tcp::hex(&sha2::Digest::finalize(hasher)), got, took)
        });
        eprintln!(
            "engine client -> kernel echo: {} MiB each way in {took:.2?}: {}",
            LEN / MIB,
            rate(LEN, took)
        );
        assert_eq!(got_len, LEN);
        assert_eq!(got_sha, want, "echoed bytes equal the sent bytes");
        assert_eq!(server.join().expect("kernel server"), LEN);
    });
}

#[test]
fn thousand_sequential_short_connections_from_the_kernel() {
    const N: usize = 1000;
    const REQ: usize = 100;
    let peer = ServePeer::start("echo", &[]);
    for i in 0..N {
        let mut s = peer
            .connect(ECHO)
            .unwrap_or_else(|e| panic!("connection {i}: connect: {e}"));
        let req = pattern(REQ, i as u64 + 100);
        s.write_all(&req)
            .unwrap_or_else(|e| panic!("connection {i}: write: {e}"));
        let mut resp = vec![0u8; REQ];
        s.read_exact(&mut resp)
            .unwrap_or_else(|e| panic!("connection {i}: read: {e}"));
        assert_eq!(resp, req, "connection {i}: echoed request");
        drop(s);
    }
    // Every kernel socket in TIME-WAIT means the engine answered every FIN with its own (so
    // serve has closed every connection).
    wait_kernel_sockets_time_wait(&peer.ns, N);

    let c = peer.stop();
    let n = N as u64;
    assert_eq!(counter(&c, "TcpPassiveOpens"), n, "{c:?}");
    assert_eq!(counter(&c, "ServerAccepted"), n, "{c:?}");
    assert_eq!(counter(&c, "ServerClosed"), n, "{c:?}");
    assert_eq!(counter(&c, "ServerBytesIn"), n * REQ as u64, "{c:?}");
    assert_eq!(counter(&c, "ServerBytesOut"), n * REQ as u64, "{c:?}");
    assert_eq!(counter(&c, "TcpActiveOpens"), 0, "{c:?}");
    assert_eq!(counter(&c, "TcpOutRsts"), 0, "{c:?}");
    assert_eq!(counter(&c, "TcpExtNoPort"), 0, "{c:?}");
    assert_eq!(counter(&c, "TcpExtListenOverflows"), 0, "{c:?}");
    assert_eq!(counter(&c, "TcpExtListenDrops"), 0, "{c:?}");
    assert_eq!(counter(&c, "TcpCurrEstab"), 0, "{c:?}");
    assert_no_failures(&c);
}

/// Waits until the namespace holds `n` TCP sockets toward the engine, all in TIME-WAIT.
fn wait_kernel_sockets_time_wait(ns: &Netns, n: usize) {
    let start = Instant::now();
    loop {
        let out = ns.exec_ok(&["ss", "-Htan", "dst", &ENGINE_IP.to_string()]);
        let states: Vec<&str> = out
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        let tw = states.iter().filter(|s| **s == "TIME-WAIT").count();
        if tw == n && states.len() == n {
            return;
        }
        assert!(
            start.elapsed() < common::PATIENCE,
            "{n} kernel sockets in TIME-WAIT expected; ss shows {tw} of {}:\n{out}",
            states.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn kernel_half_close_still_reads_the_echo_then_eof() {
    const LEN: usize = 256 * 1024;
    let peer = ServePeer::start("echo", &[]);
    let data = pattern(LEN, 3);
    let mut s = peer.connect(ECHO).expect("connect");
    s.write_all(&data).expect("write");
    s.shutdown(Shutdown::Write).expect("shutdown(SHUT_WR)");
    let mut got = Vec::new();
    // read_to_end returns only at EOF: the engine's FIN after the whole echo.
    s.read_to_end(&mut got).expect("read until EOF");
    assert_eq!(got.len(), LEN, "the whole echo arrived after our FIN");
    assert!(got == data, "echoed bytes equal the sent bytes");
    let mut one = [0u8; 1];
    assert_eq!(
        s.read(&mut one).expect("read after EOF"),
        0,
        "EOF stays EOF"
    );
    drop(s);
    wait_kernel_sockets_time_wait(&peer.ns, 1);

    let c = peer.stop();
    assert_eq!(counter(&c, "ServerAccepted"), 1, "{c:?}");
    assert_eq!(counter(&c, "ServerClosed"), 1, "{c:?}");
    assert_eq!(counter(&c, "ServerBytesIn"), LEN as u64, "{c:?}");
    assert_eq!(counter(&c, "ServerBytesOut"), LEN as u64, "{c:?}");
    assert_eq!(counter(&c, "TcpOutRsts"), 0, "{c:?}");
    assert_no_failures(&c);
}

#[test]
fn engine_half_close_still_receives_the_kernel_data_after_its_fin() {
    const UP: usize = 256 * 1024;
    const DOWN: usize = 4 * MIB;
    const PORT: u16 = 7008;
    let ns = Netns::new();
    let tap = unique_name("th");
    let listener = kernel_listen(&ns, PORT);
    let up = pattern(UP, 4);
    let down = pattern(DOWN, 5);

    std::thread::scope(|sc| {
        // The kernel server reads until EOF (the engine's FIN), then sends its data and closes.
        let server = sc.spawn(|| {
            let mut s = accept_within(&listener, Duration::from_secs(60));
            let mut got = Vec::new();
            s.read_to_end(&mut got).expect("kernel reads until EOF");
            s.write_all(&down)
                .expect("kernel writes after the peer's FIN");
            s.shutdown(Shutdown::Write).expect("kernel shutdown");
            // Wait for the engine's last ACK before the socket goes (a close with unread data
            // would be a reset; there is none to read).
            let mut one = [0u8; 1];
            let n = read_retry(&mut s, &mut one).expect("read after our FIN");
            (got, n)
        });

        let (got, state) = ns.in_thread(|| {
            let mut host = EngineHost::open(&ns, &tap);
            let c = host.connect(KERNEL_IP, PORT, None);
            let mut sent = 0usize;
            host.run_until("send", Duration::from_secs(60), Some(c), |st, _| {
                sent += EngineHost::send_some(st, c, &up[sent..]);
                (sent == UP).then_some(())
            });
            host.stack.shutdown(c).expect("engine shutdown");
            assert!(
                host.stack.send(c, b"x").is_err(),
                "no sending after shutdown"
            );
            let mut got = Vec::with_capacity(DOWN);
            let mut buf = vec![0u8; 64 * 1024];
            host.run_until(
                "receive after our FIN",
                Duration::from_secs(120),
                Some(c),
                |st, _| {
                    EngineHost::recv_all(st, c, &mut buf, |b| got.extend_from_slice(b))
                        .then_some(())
                },
            );
            let info = host.stack.info(c).expect("still held");
            assert_eq!(
                info.snd_una, info.snd_nxt,
                "our data and FIN acknowledged: {info:?}"
            );
            let state = info.state;
            host.stack.close(c);
            (got, state)
        });
        assert_eq!(
            got.len(),
            DOWN,
            "the engine received all the kernel sent after its FIN"
        );
        assert!(got == down, "received bytes equal the kernel's");
        assert_eq!(
            state,
            State::TimeWait,
            "both FINs exchanged, we closed first"
        );
        let (kgot, n) = server.join().expect("kernel server");
        assert_eq!(
            kgot.len(),
            UP,
            "the kernel read the engine's data, then EOF"
        );
        assert!(kgot == up, "the kernel read the engine's bytes");
        assert_eq!(
            n, 0,
            "the kernel's read after its FIN sees EOF, not a reset"
        );
    });
}

#[test]
fn connect_to_a_closed_engine_port_is_refused() {
    const TRIES: u64 = 3;
    let peer = ServePeer::start("echo", &[]);
    for _ in 0..TRIES {
        match peer.connect(9) {
            Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}"),
            Ok(s) => panic!("connected to a closed port: {s:?}"),
        }
    }
    // The listening port still works.
    let mut s = peer.connect(ECHO).expect("connect to the echo port");
    s.write_all(b"ping").expect("write");
    let mut b = [0u8; 4];
    s.read_exact(&mut b).expect("read");
    assert_eq!(&b, b"ping");
    drop(s);
    wait_kernel_sockets_time_wait(&peer.ns, 1);

    let c = peer.stop();
    assert_eq!(counter(&c, "TcpOutRsts"), TRIES, "one RST per SYN: {c:?}");
    assert_eq!(counter(&c, "TcpExtNoPort"), TRIES, "{c:?}");
    assert_eq!(counter(&c, "TcpPassiveOpens"), 1, "{c:?}");
    assert_no_failures(&c);
}

/// Runs `curl -sS -v --max-time 30 args` in `ns`, fails the test unless it succeeds, and
/// returns its stdout (the bodies) and stderr (the exchange).
fn curl(ns: &Netns, args: &[&str]) -> (String, String) {
    let mut all = vec!["curl", "-sS", "-v", "--max-time", "30"];
    all.extend_from_slice(args);
    let out = ns.exec(&all);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        out.status.success(),
        "curl {args:?} failed ({}): {stdout}\n{stderr}",
        out.status
    );
    (stdout, stderr)
}

#[test]
fn curl_fetches_the_http_body_keep_alive_and_http_1_0() {
    let peer = ServePeer::start("http", &[]);
    let url = format!("http://{ENGINE_IP}/");
    let body = String::from_utf8(apps::servers::HTTP_BODY.to_vec()).expect("utf-8 body");
    let curl = |args: &[&str]| curl(&peer.ns, args);

    let (out, err) = curl(&[&url, &url, &url]);
    assert_eq!(
        out,
        body.repeat(3),
        "three bodies on one connection; curl said:\n{err}"
    );
    assert!(
        err.matches("HTTP/1.1 200 OK").count() == 3,
        "three 200 responses: {err}"
    );
    let (out, err) = curl(&["--http1.0", &url]);
    assert_eq!(out, body, "curl said:\n{err}");
    assert!(err.contains("HTTP/1.1 200 OK"), "{err}");

    let c = peer.stop();
    assert_eq!(
        counter(&c, "ServerAccepted"),
        2,
        "the three keep-alive requests shared one connection: {c:?}"
    );
    assert_eq!(counter(&c, "ServerRequests"), 4, "{c:?}");
    assert_eq!(counter(&c, "TcpPassiveOpens"), 2, "{c:?}");
    assert_no_failures(&c);
}

#[test]
fn curl_fetches_over_ipv6_and_ipv4_from_one_serve_http_at_once() {
    const ROUNDS: usize = 20;
    let peer = ServePeer::start_dual("http", &[]);
    let body = String::from_utf8(apps::servers::HTTP_BODY.to_vec()).expect("utf-8 body");
    let url6 = format!("http://[{ENGINE_IP6}]/");
    let url4 = format!("http://{ENGINE_IP}/");
    // Each curl fetches ROUNDS times on one keep-alive connection, both at the same time.
    let (v6, v4) = std::thread::scope(|sc| {
        let fetch = |family: &'static str, url: &str| {
            let urls = vec![url.to_string(); ROUNDS];
            let ns = &peer.ns;
            sc.spawn(move || {
                let mut args = vec![family, "-g"];
                args.extend(urls.iter().map(String::as_str));
                curl(ns, &args)
            })
        };
        let (h6, h4) = (fetch("-6", &url6), fetch("-4", &url4));
        (h6.join().expect("curl -6"), h4.join().expect("curl -4"))
    });
    for ((out, err), addr) in [(v6, ENGINE_IP6.to_string()), (v4, ENGINE_IP.to_string())] {
        eprintln!(
            "curl to {addr}: {}, {} x {:?}",
            err.lines()
                .find(|l| l.contains("Connected to"))
                .unwrap_or("no \"Connected to\" line"),
            out.matches(body.as_str()).count(),
            body
        );
        assert_eq!(
            out,
            body.repeat(ROUNDS),
            "every body from {addr}; curl said:\n{err}"
        );
        assert!(
            err.contains(&format!("Connected to {addr} ({addr}) port 80")),
            "curl connected to {addr}: {err}"
        );
        assert_eq!(
            err.matches("HTTP/1.1 200 OK").count(),
            ROUNDS,
            "{ROUNDS} responses from {addr}: {err}"
        );
    }

    let c = peer.stop();
    assert_eq!(
        counter(&c, "ServerAccepted"),
        2,
        "one keep-alive connection per family: {c:?}"
    );
    assert_eq!(counter(&c, "ServerRequests"), 2 * ROUNDS as u64, "{c:?}");
    assert_eq!(counter(&c, "TcpPassiveOpens"), 2, "{c:?}");
    assert!(
        counter(&c, "Ip6InDelivers") >= ROUNDS as u64,
        "the IPv6 requests came in over IPv6: {c:?}"
    );
    assert!(
        counter(&c, "IpInDelivers") >= ROUNDS as u64,
        "the IPv4 requests came in over IPv4: {c:?}"
    );
    assert_no_failures(&c);
}
