//! `loadgen` end to end (issue 4, "must show"):
//!
//! - the embedded set-up (engine client and engine `serve echo` server over a net_ring pair in
//!   one process) in every mode finishes with zero errors, and what the client says it sent is
//!   what the server says it received (requests × request size = server bytes in);
//! - the engine client on a net_tap in a private namespace against a kernel echo server (`serve
//!   echo --stack kernel`) in that namespace: zero errors, counts equal the server's;
//! - `--stack kernel` against `serve echo --stack kernel` on loopback works, and the JSON report
//!   has every documented field;
//! - `rate` measures latency from the *scheduled* send time: against a server that stalls once
//!   for 200 ms, the maximum and the 99.9th percentile include the stall although only two
//!   requests are ever in flight, and at a constant low rate the number of requests is the rate
//!   times the duration.
//!
//! Nothing here asserts a throughput or a latency figure; the only time in an assertion is the
//! injected stall, a lower bound.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{Netns, Proc, counter, serve_bin, unique_name};
use serde_json::Value;

fn loadgen_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_loadgen"))
}

/// A JSON file path unique to this test.
fn json_path() -> PathBuf {
    std::env::temp_dir().join(format!("{}.json", unique_name("lg")))
}

/// Runs loadgen with `args` plus `--json`, fails the test unless it exits 0, and returns the
/// parsed report and the table it printed.
fn loadgen(args: &[&str]) -> (Value, String) {
    loadgen_in(None, args)
}

/// [`loadgen`] inside `ns` (or here).
fn loadgen_in(ns: Option<&Netns>, args: &[&str]) -> (Value, String) {
    let (out, v) = loadgen_status(ns, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "loadgen {args:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    (v.expect("loadgen wrote its JSON report"), stdout)
}

fn u(v: &Value, path: &str) -> u64 {
    v.pointer(path)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no unsigned {path} in {v:#}"))
}

fn f(v: &Value, path: &str) -> f64 {
    v.pointer(path)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("no number {path} in {v:#}"))
}

/// Every field the report promises, with its type.
fn assert_required_fields(v: &Value) {
    for k in ["mode", "stack"] {
        assert!(v[k].is_string(), "{k} is a string: {v:#}");
    }
    for k in [
        "duration_s",
        "requests",
        "requests_per_sec",
        "bytes_per_sec",
        "connections_per_sec",
        "errors",
    ] {
        assert!(v[k].is_number(), "{k} is a number: {v:#}");
    }
    for k in ["p50", "p90", "p99", "p999", "p9999", "max"] {
        assert!(
            v["latency_us"][k].is_number(),
            "latency_us.{k} is a number: {v:#}"
        );
    }
    for k in ["refused", "reset", "timed_out", "no_ports", "other"] {
        assert!(v["errors_by_kind"][k].is_u64(), "errors_by_kind.{k}: {v:#}");
    }
    for k in ["cores", "conns", "pipeline", "req_size"] {
        assert!(v[k].is_u64(), "{k}: {v:#}");
    }
}

/// Zero errors, nothing left unanswered, and the client's bytes equal the server's.
fn assert_clean_and_counted(v: &Value, server_in: u64, server_out: u64) {
    assert_eq!(u(v, "/errors"), 0, "no errors: {v:#}");
    assert_eq!(u(v, "/totals/unfinished"), 0, "nothing unanswered: {v:#}");
    assert_eq!(
        u(v, "/totals/bytes_sent"),
        server_in,
        "every byte the client sent reached the server: {v:#}"
    );
    assert_eq!(
        u(v, "/totals/bytes_received"),
        server_out,
        "every byte the server sent reached the client: {v:#}"
    );
}

/// Embedded run of `mode`: engine client and engine echo server over a net_ring pair.
fn embedded(mode: &[&str]) -> Value {
    let mut args = mode.to_vec();
    args.extend_from_slice(&["--duration", "1", "--warmup", "0.3"]);
    let (v, table) = loadgen(&args);
    assert_required_fields(&v);
    assert_eq!(v["embedded"], Value::Bool(true));
    assert_eq!(v["stack"], "engine");
    assert!(table.contains("server engine counters:"), "{table}");
    let srv_in = u(&v, "/server/stats/bytes_in");
    let srv_out = u(&v, "/server/stats/bytes_out");
    assert_clean_and_counted(&v, srv_in, srv_out);
    assert_eq!(u(&v, "/server/stats/errors"), 0, "{v:#}");
    let sc = &v["server"]["counters"];
    for name in [
        "TcpEstabResets",
        "TcpAttemptFails",
        "TcpInErrs",
        "EthInMalformed",
    ] {
        assert_eq!(sc[name].as_u64(), Some(0), "server {name}: {v:#}");
        assert_eq!(
            v["engine_counters"][name].as_u64(),
            Some(0),
            "client {name}: {v:#}"
        );
    }
    v
}

#[test]
fn embedded_rpc_matches_the_servers_counts() {
    let v = embedded(&["rpc", "--conns", "8", "--pipeline", "2", "--req-size", "64"]);
    assert!(u(&v, "/requests") > 0, "{v:#}");
    assert_eq!(u(&v, "/totals/requests_sent"), u(&v, "/totals/responses"));
    assert_eq!(
        u(&v, "/totals/requests_sent") * 64,
        u(&v, "/server/stats/bytes_in"),
        "requests x request size = the server's bytes in"
    );
    assert_eq!(u(&v, "/server/stats/accepted"), 8, "{v:#}");
    assert!(f(&v, "/latency_us/p50") > 0.0 && f(&v, "/latency_us/max") >= f(&v, "/latency_us/p99"));
    // ECN is not asked for by default (as Linux's tcp_ecn=2): nothing goes out ECT.
    assert_eq!(v["ecn"], Value::Bool(false), "{v:#}");
    for c in [&v["engine_counters"], &v["server"]["counters"]] {
        assert_eq!(c["IpExtInECT0Pkts"].as_u64(), Some(0), "{v:#}");
    }
}

#[test]
fn embedded_rpc_with_ecn_sends_data_ect0_both_ways() {
    // The client asks (RFC 3168 §6.1.1), the embedded server accepts as Linux does by default:
    // requests and responses go out ECT(0); no router marks them here.
    let v = embedded(&["rpc", "--conns", "4", "--ecn"]);
    assert_eq!(v["ecn"], Value::Bool(true), "{v:#}");
    let requests = u(&v, "/totals/requests_sent");
    for (who, c) in [
        ("client", &v["engine_counters"]),
        ("server", &v["server"]["counters"]),
    ] {
        let ect0 = c["IpExtInECT0Pkts"].as_u64().unwrap_or(0);
        assert!(ect0 >= requests, "{who} received ECT(0) data: {v:#}");
        assert_eq!(c["IpExtInCEPkts"].as_u64(), Some(0), "{who}: {v:#}");
        assert_eq!(
            c["TcpExtTCPECNReductions"].as_u64(),
            Some(0),
            "{who}: {v:#}"
        );
    }
}

#[test]
fn embedded_rpc_over_ipv6_matches_the_servers_counts() {
    let v = embedded(&["rpc", "--conns", "4", "--target", "[fd00::2]:7"]);
    assert_eq!(v["target"], "[fd00::2]:7", "{v:#}");
    assert!(u(&v, "/requests") > 0, "{v:#}");
    assert_eq!(
        u(&v, "/totals/requests_sent") * 64,
        u(&v, "/server/stats/bytes_in"),
        "requests x request size = the server's bytes in"
    );
    let (client, server) = (&v["engine_counters"], &v["server"]["counters"]);
    assert!(
        client["Ip6OutRequests"].as_u64().is_some_and(|n| n > 0),
        "the client sent over IPv6: {v:#}"
    );
    assert!(
        server["Ip6InDelivers"].as_u64().is_some_and(|n| n > 0),
        "the server received over IPv6: {v:#}"
    );
    assert_eq!(
        client["IpOutRequests"].as_u64(),
        Some(0),
        "nothing over IPv4: {v:#}"
    );
}

#[test]
fn embedded_rate_matches_the_servers_counts() {
    let v = embedded(&[
        "rate",
        "--rate",
        "2000",
        "--arrivals",
        "poisson",
        "--req-size",
        "100",
    ]);
    assert!(u(&v, "/requests") > 0, "{v:#}");
    assert_eq!(
        u(&v, "/totals/requests_sent") * 100,
        u(&v, "/server/stats/bytes_in"),
        "requests x request size = the server's bytes in"
    );
}

#[test]
fn embedded_stream_matches_the_servers_counts() {
    let v = embedded(&["stream", "--direction", "both"]);
    assert!(u(&v, "/totals/bytes_sent") > 0, "{v:#}");
    assert!(f(&v, "/gbps") > 0.0, "{v:#}");
}

#[test]
fn embedded_churn_matches_the_servers_counts() {
    // TIME_WAIT reuse after 10 ms (as the bench runs churn): with the default 1 s, a churn
    // faster than 28,232 ephemeral ports per second runs out of ports (`no_ports`), by design.
    let v = embedded(&[
        "churn",
        "--conns",
        "4",
        "--req-size",
        "32",
        "--tw-reuse-ms",
        "10",
    ]);
    let done = u(&v, "/totals/connections_done");
    assert!(u(&v, "/connections") > 0, "{v:#}");
    assert_eq!(
        done,
        u(&v, "/totals/connects"),
        "every connection finished: {v:#}"
    );
    assert_eq!(u(&v, "/server/stats/accepted"), done, "{v:#}");
    assert_eq!(done * 32, u(&v, "/server/stats/bytes_in"), "{v:#}");
}

/// `serve MODE --stack kernel --listen 0 [extra]` in `ns` (or here), and the port it bound.
fn kernel_serve(ns: Option<&Netns>, extra: &[&str]) -> (Proc, u16) {
    let mut args = vec!["echo", "--stack", "kernel"];
    args.extend_from_slice(extra);
    let mut p = match ns {
        Some(ns) => ns.spawn(serve_bin(), &args),
        None => Proc::spawn({
            let mut c = std::process::Command::new(serve_bin());
            c.args(&args);
            c
        }),
    };
    let banner = p.wait_for_line(|l| l.starts_with("serve: kernel sockets"));
    p.wait_for_line(|l| l == "serve: ready");
    let port = banner
        .split_whitespace()
        .find_map(|w| {
            w.rsplit_once(':')
                .and_then(|(_, p)| p.trim_end_matches(',').parse().ok())
        })
        .unwrap_or_else(|| panic!("no port in {banner:?}"));
    (p, port)
}

#[test]
fn kernel_stack_against_kernel_echo_on_loopback() {
    let (srv, port) = kernel_serve(None, &["--listen", "0", "--ip", "127.0.0.1/8"]);
    kernel_rpc_against(None, srv, &format!("127.0.0.1:{port}"));
}

#[test]
fn kernel_stack_against_kernel_echo_over_ipv6() {
    // `serve --stack kernel` without --ip listens on 0.0.0.0 and [::]; loadgen's kernel client
    // connects over IPv6 (AF_INET6 sockets) to [::1] in a namespace with IPv6 on.
    let ns = Netns::with_ipv6();
    let (srv, port) = kernel_serve(Some(&ns), &["--listen", "0"]);
    let banner = srv.stdout_so_far();
    assert!(banner.contains(&format!("[::]:{port}")), "{banner}");
    let v = kernel_rpc_against(Some(&ns), srv, &format!("[::1]:{port}"));
    assert_eq!(v["target"], format!("[::1]:{port}"), "{v:#}");
}

/// `loadgen rpc --stack kernel` with 4 connections from `ns` (or here) against `srv` (`serve
/// echo --stack kernel`) at `target`: every field reported, zero errors, the client's counts
/// equal the server's. Returns the report.
fn kernel_rpc_against(ns: Option<&Netns>, srv: Proc, target: &str) -> Value {
    let (v, _) = loadgen_in(
        ns,
        &[
            "rpc",
            "--stack",
            "kernel",
            "--target",
            target,
            "--conns",
            "4",
            "--duration",
            "1",
            "--warmup",
            "0.2",
        ],
    );
    let done = srv.stop();
    assert!(done.status.success(), "{done:?}");
    let c = done.counters();
    assert_required_fields(&v);
    assert_eq!(v["stack"], "kernel");
    assert_eq!(v["mode"], "rpc");
    assert!(u(&v, "/requests") > 0, "{v:#}");
    assert!(
        v["engine_counters"].is_null(),
        "no engine counters for the kernel stack"
    );
    assert_clean_and_counted(
        &v,
        counter(&c, "ServerBytesIn"),
        counter(&c, "ServerBytesOut"),
    );
    assert_eq!(counter(&c, "ServerAccepted"), 4);
    assert_eq!(counter(&c, "ServerErrors"), 0);
    v
}

#[test]
fn engine_over_tap_against_a_kernel_echo_server() {
    engine_over_tap_against_kernel_echo(false);
}

#[test]
fn engine_over_tap_against_a_kernel_echo_server_over_ipv6() {
    let v = engine_over_tap_against_kernel_echo(true);
    assert!(
        v["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("[fd79::2]:")),
        "the target was the kernel's IPv6 address: {v:#}"
    );
    // Every segment went over IPv6 (after Neighbor Discovery), none over IPv4.
    let c = &v["engine_counters"];
    for name in [
        "Ip6OutRequests",
        "Ip6InDelivers",
        "Icmp6InNeighborAdvertisements",
    ] {
        assert!(c[name].as_u64().is_some_and(|n| n > 0), "{name}: {v:#}");
    }
    for name in [
        "IpOutRequests",
        "IpInReceives",
        "Ip6InHdrErrors",
        "Ip6InAddrErrors",
    ] {
        assert_eq!(c[name].as_u64(), Some(0), "{name}: {v:#}");
    }
}

/// The engine client (`loadgen rpc` on a tap) against a kernel echo server (`serve echo
/// --stack kernel`, on 0.0.0.0 and [::]) in one namespace: zero errors, and the client's
/// counts equal the server's. Over IPv4 the engine is 10.79.0.2 and the kernel 10.79.0.1;
/// with `ipv6` the engine also has fd79::1/64 and loads the kernel at [fd79::2]:PORT.
/// Returns the JSON report.
fn engine_over_tap_against_kernel_echo(ipv6: bool) -> Value {
    const KERNEL_IP: &str = "10.79.0.1";
    const KERNEL_IP6: &str = "fd79::2";
    let ns = if ipv6 {
        Netns::with_ipv6()
    } else {
        Netns::new()
    };
    let (srv, port) = kernel_serve(Some(&ns), &["--listen", "0"]);
    let tap = unique_name("lt");
    let path = json_path();
    let target = if ipv6 {
        format!("[{KERNEL_IP6}]:{port}")
    } else {
        format!("{KERNEL_IP}:{port}")
    };
    let (spec, json) = (
        format!("tap:{tap}"),
        path.to_str().expect("utf-8").to_string(),
    );
    let mut args = vec![
        "rpc",
        "--port",
        &spec,
        "--ip",
        "10.79.0.2/24",
        "--target",
        &target,
        "--conns",
        "4",
        "--pipeline",
        "2",
        "--duration",
        "1",
        "--warmup",
        "1",
        "--json",
        &json,
    ];
    if ipv6 {
        args.extend_from_slice(&["--ip", "fd79::1/64"]);
    }
    let lg = ns.spawn(loadgen_bin(), &args);
    ns.wait_for_link(&tap);
    ns.configure_peer(&tap, &format!("{KERNEL_IP}/24"), Some("02:6b:65:72:6e:01"));
    if ipv6 {
        ns.add_addr(&tap, &format!("{KERNEL_IP6}/64"));
    }
    let done = lg.wait();
    assert!(done.status.success(), "loadgen over tap: {done:?}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("JSON report"))
        .expect("JSON parses");
    let _ = std::fs::remove_file(&path);
    let s = srv.stop();
    let c = s.counters();
    eprintln!(
        "loadgen rpc -> {target}: {} requests, {} errors, p99 {} us",
        u(&v, "/requests"),
        u(&v, "/errors"),
        f(&v, "/latency_us/p99")
    );
    assert_required_fields(&v);
    assert!(u(&v, "/requests") > 0, "{v:#}");
    assert_clean_and_counted(
        &v,
        counter(&c, "ServerBytesIn"),
        counter(&c, "ServerBytesOut"),
    );
    assert_eq!(counter(&c, "ServerErrors"), 0);
    assert_eq!(counter(&c, "ServerAccepted"), 4, "{c:?}");
    assert_eq!(
        u(&v, "/totals/requests_sent") * 64,
        counter(&c, "ServerBytesIn"),
        "requests x request size = the server's bytes in"
    );
    v
}

/// A kernel echo server for 64-byte requests that sleeps `stall` once, before answering the
/// `at`-th request (counted over all connections). Serves until the test ends.
fn stalling_echo(at: u64, stall: Duration) -> u16 {
    let l = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let port = l.local_addr().expect("addr").port();
    let seen = Arc::new(AtomicU64::new(0));
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || {
                let _ = s.set_nodelay(true);
                let mut buf = [0u8; 64];
                while s.read_exact(&mut buf).is_ok() {
                    if seen.fetch_add(1, Ordering::Relaxed) + 1 == at {
                        std::thread::sleep(stall);
                    }
                    if s.write_all(&buf).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[test]
fn rate_counts_latency_from_the_schedule() {
    const STALL: Duration = Duration::from_millis(200);
    const RATE: f64 = 200.0;
    const SECS: f64 = 2.0;
    // Warm-up is 0.5 s (about 100 requests): stall well inside the measured window.
    let port = stalling_echo(200, STALL);
    let target = format!("127.0.0.1:{port}");
    let (v, _) = loadgen(&[
        "rate",
        "--stack",
        "kernel",
        "--target",
        &target,
        "--rate",
        "200",
        "--arrivals",
        "constant",
        "--conns",
        "2",
        "--duration",
        "2",
        "--warmup",
        "0.5",
        "--drain",
        "3",
    ]);
    assert_required_fields(&v);
    assert_eq!(u(&v, "/errors"), 0, "{v:#}");
    let stall_us = STALL.as_micros() as f64;
    // Only 2 requests are ever in flight; a closed-loop measurement would record the stall
    // once. From the schedule, the requests that waited behind it carry it too.
    assert!(
        f(&v, "/latency_us/max") >= stall_us,
        "max includes the stall: {v:#}"
    );
    assert!(
        f(&v, "/latency_us/p999") >= stall_us * 0.99,
        "p99.9 includes the stall: {v:#}"
    );
    assert!(
        f(&v, "/latency_us/p99") >= stall_us / 2.0,
        "requests scheduled during the stall waited for it: {v:#}"
    );
    let want = RATE * SECS;
    let got = u(&v, "/requests") as f64;
    assert!(
        (got - want).abs() <= want * 0.1,
        "constant arrivals: about rate x duration = {want} requests, got {got}: {v:#}"
    );
}

/// Runs loadgen with `args` plus `--json` and `--quiet`, whatever its exit status: the
/// process output and the report, if it wrote one.
fn loadgen_status(ns: Option<&Netns>, args: &[&str]) -> (std::process::Output, Option<Value>) {
    let path = json_path();
    let p = path.to_str().expect("utf-8 path").to_string();
    let mut all: Vec<&str> = args.to_vec();
    all.extend_from_slice(&["--json", &p, "--quiet"]);
    let out = match ns {
        Some(ns) => ns
            .command(loadgen_bin(), &all)
            .output()
            .expect("loadgen runs"),
        None => common::run(loadgen_bin(), &all),
    };
    let v = std::fs::read_to_string(&path)
        .ok()
        .map(|t| serde_json::from_str(&t).expect("the report parses as JSON"));
    let _ = std::fs::remove_file(&path);
    (out, v)
}

/// Asserts that the run failed with exit status 1 and said why in one line of stderr
/// containing `why`; returns that line.
fn assert_failed_because(status: std::process::ExitStatus, stderr: &str, why: &str) -> String {
    assert_eq!(
        status.code(),
        Some(1),
        "exit status 1: {status:?}, {stderr}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("failed:")).collect();
    assert_eq!(lines.len(), 1, "one line says why: {stderr}");
    assert!(lines[0].contains(why), "{why:?} in {:?}", lines[0]);
    lines[0].to_string()
}

/// Runs loadgen (here) expecting it to fail because of `why`; returns the report it wrote
/// anyway.
fn failing_run(args: &[&str], why: &str) -> Value {
    let (out, v) = loadgen_status(None, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_failed_because(out.status, &stderr, why);
    let v = v.expect("the report is written anyway");
    assert!(v["failure"].is_string(), "{v:#}");
    v
}

/// More connections than one client address has ports toward the target (1,000 with
/// `--local-ports 40000-40999`): the embedded set-up adds addresses by itself, paces the
/// handshakes, and opens every connection with nothing dropped on the way.
#[test]
fn embedded_rpc_opens_more_connections_than_one_address_has_ports() {
    let (v, table) = loadgen(&[
        "rpc",
        "--conns",
        "3000",
        "--local-ports",
        "40000-40999",
        "--duration",
        "0.5",
        "--warmup",
        "0.2",
    ]);
    assert_eq!(u(&v, "/connections_asked"), 3000, "{v:#}");
    assert_eq!(
        u(&v, "/connections_opened"),
        3000,
        "all open at once: {v:#}"
    );
    assert!(v["connections_open_s"].is_number(), "{v:#}");
    assert_eq!(u(&v, "/errors"), 0, "{v:#}");
    assert!(v["failure"].is_null(), "{v:#}");
    assert_eq!(u(&v, "/server/stats/accepted"), 3000, "{v:#}");
    assert!(
        v["setup"]
            .as_str()
            .is_some_and(|s| s.contains("from 4 source addresses")),
        "four addresses of 875 planned ports each: {v:#}"
    );
    assert!(
        table.contains("3,000 asked for, 3,000 open at once"),
        "{table}"
    );
    // TX drops are asserted in engine/tests/tx_backpressure.rs, on a fake clock: here a
    // thread descheduled for longer than dev::TX_STALL_TIME on a busy machine can make its
    // peer drop a stalled head frame.
    for side in ["/engine_counters", "/server/counters"] {
        for name in ["UnresolvedDiscards", "TcpExtTxNoBuf"] {
            assert_eq!(u(&v, &format!("{side}/{name}")), 0, "{side} {name}: {v:#}");
        }
    }
}

/// Fewer connections open than asked (one address, 1,000 ports, 1,500 asked): the run fails
/// and says how many were open.
#[test]
fn fewer_connections_open_than_asked_fail_the_run() {
    let args = "rpc --conns 1500 --source-ips 1 --local-ports 40000-40999 --duration 0.3 \
                --warmup 0";
    let args: Vec<&str> = args.split_whitespace().collect();
    let v = failing_run(&args, "only 1000 of the 1500 connections");
    assert_eq!(u(&v, "/connections_opened"), 1000, "{v:#}");
    assert!(u(&v, "/errors_by_kind/no_ports") > 0, "{v:#}");
}

/// Every connection refused (a port nothing listens on): non-zero exit, the reason in one
/// line.
#[test]
fn a_target_that_refuses_everything_fails_the_run() {
    let port = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let target = format!("127.0.0.1:{port}");
    let mut args = vec!["rpc", "--stack", "kernel", "--target", &target];
    args.extend("--conns 2 --duration 0.3 --warmup 0".split_whitespace());
    let v = failing_run(&args, "refused every connection");
    assert!(u(&v, "/errors_by_kind/refused") > 0, "{v:#}");
    assert_eq!(u(&v, "/requests"), 0, "{v:#}");
}

/// The engine on a tap against an address nobody answers for: no connection opens, the run
/// fails saying so, and the engine's counters are printed (a real target, no --json table
/// needed) with the SYNs' neighbour resolution failing.
#[test]
fn an_unreachable_target_fails_the_run_and_prints_counters() {
    let ns = Netns::new();
    let tap = unique_name("lu");
    let spec = format!("tap:{tap}");
    let path = json_path();
    let json = path.to_str().expect("utf-8").to_string();
    let args = [
        "rpc",
        "--port",
        &spec,
        "--ip",
        "10.79.0.2/24",
        "--target",
        "10.79.0.99:7",
        "--conns",
        "2",
        "--duration",
        "0.3",
        "--warmup",
        "0",
        "--json",
        &json,
    ];
    let lg = ns.spawn(loadgen_bin(), &args);
    ns.wait_for_link(&tap);
    ns.configure_peer(&tap, "10.79.0.1/24", Some("02:6b:65:72:6e:01"));
    let out = lg.wait();
    assert_failed_because(
        out.status,
        &out.stderr,
        "no connection to 10.79.0.99:7 opened",
    );
    let stdout = &out.stdout;
    assert!(stdout.contains("client engine counters:"), "{stdout}");
    assert!(stdout.contains("ArpOutRequests"), "{stdout}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("JSON report"))
        .expect("JSON parses");
    let _ = std::fs::remove_file(&path);
    assert_eq!(u(&v, "/totals/connects"), 0, "{v:#}");
}

/// `--proto http`: the header and the JSON describe HTTP requests, not 64-byte echoes.
#[test]
fn http_runs_are_described_as_http() {
    let (v, table) = loadgen(&[
        "rpc",
        "--server",
        "http",
        "--proto",
        "http",
        "--conns",
        "2",
        "--duration",
        "0.3",
        "--warmup",
        "0",
    ]);
    assert_eq!(v["proto"], "http", "{v:#}");
    assert_eq!(v["path"], "/", "{v:#}");
    assert!(v["resp_size"].is_null(), "{v:#}");
    assert!(!table.contains("64 B requests"), "{table}");
    assert!(table.contains("HTTP GET /"), "{table}");
    assert!(u(&v, "/requests") > 0, "{v:#}");
}

/// `--source-ips` over Linux sockets binds each connection to one of the consecutive
/// addresses: from 127.0.0.2 and 127.0.0.3 (loopback has them all) every connection opens;
/// from addresses the namespace does not have (192.0.2.0/24 in a namespace with only
/// loopback) none can, and the run fails.
#[test]
fn kernel_source_ips_bind_each_connection_to_an_address() {
    let ns = Netns::new();
    let args = "rpc --stack kernel --conns 64 --source-ips 2 --ip 127.0.0.1/8 --duration 0.3 \
                --warmup 0.1";
    let (v, _) = loadgen_in(Some(&ns), &args.split_whitespace().collect::<Vec<_>>());
    assert_eq!(u(&v, "/connections_opened"), 64, "{v:#}");
    assert_eq!(u(&v, "/errors"), 0, "{v:#}");
    let args = "rpc --stack kernel --conns 4 --source-ips 2 --ip 192.0.2.1/24 --duration 0.3 \
                --warmup 0";
    let (out, v) = loadgen_status(Some(&ns), &args.split_whitespace().collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v = v.expect("the report is written anyway");
    assert_eq!(u(&v, "/connections_opened"), 0, "{v:#}");
    assert!(u(&v, "/errors") > 0, "bind fails: {v:#}");
}
