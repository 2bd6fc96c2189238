//! Multi-core servers and CPU choice (issue 10, deliverables 1 and 6):
//!
//! - `serve echo --cores 2` on a two-queue tap serves 200 concurrent kernel clients, every echo
//!   intact, and both stacks accepted connections (serve's per-core counters): the kernel picks
//!   the receive queue by its flow hash, and the stacks are joined by the steering mesh (ARP
//!   reaches both); the tap's kernel-side txqueuelen is the engine's 5000, not Linux's 1000;
//! - the CPUs a program prints follow `--eal-args "-l 1"` (serve, and loadgen), and serve's
//!   stack thread is restricted to that CPU;
//! - by default two programs on one host take different CPUs (the advisory CPU locks, in a lock
//!   directory of the test's own), and a third one, finding every CPU taken, warns on stderr
//!   naming the holder; one program with more stacks than CPUs warns too.
//!
//! Nothing here asserts a time or a rate.

mod common;
#[path = "common/tcp.rs"]
mod tcp;

use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use common::{Netns, Proc, counter, serve_bin, unique_name};
use tcp::{ENGINE_IP, ServePeer, pattern};

const CLIENTS: usize = 200;
const LEN: usize = 16 * 1024;

/// `--lcores=(0-1)@(0-N)`: two lcores, each free to run on any CPU (tests run side by side).
fn two_floating_lcores() -> String {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("--eal-args=--lcores=(0-1)@(0-{})", n - 1)
}

/// Sends `data` on `s` and reads the echo back (a hang guard of 60 s on the read).
fn echo_round_trip(s: TcpStream, data: &[u8]) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    tcp::send_and_read_back(s, data).0
}

#[test]
fn serve_echo_on_two_cores_serves_200_concurrent_kernel_clients_on_both_stacks() {
    let eal = two_floating_lcores();
    let peer = ServePeer::start("echo", &["--cores", "2", &eal]);
    let banner = peer.serve.stdout_so_far();
    assert!(
        banner.contains("queues 2"),
        "the tap has two queues: {banner}"
    );
    let qlen = peer
        .ns
        .exec_ok(&["cat", &format!("/sys/class/net/{}/tx_queue_len", peer.tap)]);
    assert_eq!(
        qlen.trim(),
        "5000",
        "the engine raised the tap's kernel-side queue"
    );
    let conns: Vec<TcpStream> = (0..CLIENTS)
        .map(|_| peer.connect(7).expect("kernel client connects"))
        .collect();
    let intact = std::thread::scope(|sc| {
        let handles: Vec<_> = conns
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                sc.spawn(move || {
                    let data = pattern(LEN, i as u64);
                    echo_round_trip(s, &data) == data
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .filter(|ok| *ok)
            .count()
    });
    assert_eq!(intact, CLIENTS, "every client's echo came back intact");
    let c = peer.stop();
    assert_eq!(counter(&c, "ServerAccepted"), CLIENTS as u64);
    let (a0, a1) = (
        counter(&c, "Core0ServerAccepted"),
        counter(&c, "Core1ServerAccepted"),
    );
    assert_eq!(a0 + a1, CLIENTS as u64, "the cores' counts add up");
    assert!(
        a0 > 0 && a1 > 0,
        "both stacks accepted connections: core 0 {a0}, core 1 {a1}"
    );
    assert_eq!(counter(&c, "SteerDrops"), 0, "no frame lost crossing cores");
}

/// The CPU list of the line `PROG: N core(s) on CPU(s) ...`.
fn cpus_line(out: &str, prog: &str) -> String {
    out.lines()
        .find(|l| l.starts_with(&format!("{prog}: ")) && l.contains(" core(s) on CPU"))
        .unwrap_or_else(|| panic!("{prog} printed no CPU line: {out}"))
        .to_string()
}

/// The `Cpus_allowed_list` of every thread of process `pid`.
fn thread_cpus(pid: u32) -> Vec<String> {
    let dir = format!("/proc/{pid}/task");
    std::fs::read_dir(&dir)
        .expect("the process's threads")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("status")).ok())
        .filter_map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|v| v.trim().to_string())
        })
        .collect()
}

/// A lock directory of the test's own, removed on drop.
struct LockDir(PathBuf);

impl LockDir {
    fn new() -> LockDir {
        let d = std::env::temp_dir().join(unique_name("cpulk"));
        std::fs::create_dir_all(&d).unwrap();
        LockDir(d)
    }
}

impl Drop for LockDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `serve` (ARP and ping only) on a tap of its own in `ns`, with `extra` arguments and CPU
/// locks in `locks`, up and ready.
fn serve_in(ns: &Netns, extra: &[&str], locks: &LockDir) -> Proc {
    let port = format!("tap:{}", unique_name("ct"));
    let ip = format!("{ENGINE_IP}/24");
    let mut args = vec!["--port", &port, "--ip", &ip];
    args.extend_from_slice(extra);
    let mut cmd = ns.command(serve_bin(), &args);
    cmd.env("ENGINE_CPU_LOCK_DIR", &locks.0);
    let mut p = Proc::spawn(cmd);
    p.wait_for_line(|l| l == "serve: ready");
    p
}

#[test]
fn the_cpus_in_use_follow_eal_dash_l() {
    let ns = Netns::new();
    let locks = LockDir::new();
    let serve = serve_in(&ns, &["--eal-args=-l 1"], &locks);
    let line = cpus_line(&serve.stdout_so_far(), "serve");
    assert!(line.ends_with("1 core(s) on CPU 1"), "serve: {line}");
    let threads = thread_cpus(serve.pid());
    assert!(
        threads.iter().any(|c| c == "1"),
        "a thread of serve is pinned to CPU 1: {threads:?}"
    );
    drop(serve);

    let loadgen = PathBuf::from(env!("CARGO_BIN_EXE_loadgen"));
    let mut cmd = std::process::Command::new(loadgen);
    cmd.args([
        "rpc",
        "--conns",
        "2",
        "--duration",
        "0.3",
        "--warmup",
        "0",
        "--eal-args",
        "-l 1",
    ])
    .env("ENGINE_CPU_LOCK_DIR", &locks.0);
    let out = cmd.output().expect("loadgen runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "loadgen succeeds: {err}");
    let setup = err
        .lines()
        .find(|l| l.starts_with("loadgen: embedded"))
        .unwrap_or_else(|| panic!("loadgen printed its set-up: {err}"));
    assert!(setup.ends_with("CPU 1"), "loadgen runs on CPU 1: {setup}");
}

#[test]
fn two_programs_take_different_cpus_and_a_third_warns() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 {
        eprintln!("skipped: needs two CPUs");
        return;
    }
    let ns = Netns::new();
    let locks = LockDir::new();
    let mut running = Vec::new();
    let mut seen = Vec::new();
    for _ in 0..cpus {
        let p = serve_in(&ns, &[], &locks);
        let line = cpus_line(&p.stdout_so_far(), "serve");
        assert!(
            p.stderr_so_far().is_empty(),
            "no warning while CPUs are free"
        );
        let cpu = line.rsplit(' ').next().unwrap().to_string();
        assert!(!seen.contains(&cpu), "CPU {cpu} chosen twice: {seen:?}");
        seen.push(cpu);
        running.push(p);
    }
    let extra = serve_in(&ns, &[], &locks);
    let holders: Vec<String> = running
        .iter()
        .map(|p| format!("pid {} ", p.pid()))
        .collect();
    let err = stderr_with(&extra, "warning");
    assert!(
        err.contains("already busy-polled") && holders.iter().any(|h| err.contains(h.as_str())),
        "the warning names the CPU's holder, one of {holders:?}: {err}"
    );
}

/// What `p` printed on stderr once it contains `word` (a hang guard: [`common::PATIENCE`]).
fn stderr_with(p: &Proc, word: &str) -> String {
    let start = std::time::Instant::now();
    while !p.stderr_so_far().contains(word) && start.elapsed() < common::PATIENCE {
        std::thread::sleep(Duration::from_millis(20));
    }
    p.stderr_so_far()
}

#[test]
fn more_stacks_than_cpus_in_one_program_warn() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ns = Netns::new();
    let locks = LockDir::new();
    let cores = (cpus + 1).to_string();
    let serve = serve_in(&ns, &["--cores", &cores], &locks);
    let err = stderr_with(&serve, "warning");
    assert!(
        err.contains(&format!("{cores} busy-polling stacks on {cpus} CPU(s)")),
        "serve warns that its stacks share CPUs: {err}"
    );
}
