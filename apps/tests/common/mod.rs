//! Helpers for tests that use the Linux kernel as the engine's peer (ARCHITECTURE "Testing",
//! `notes/kernel-peer-testing.md`).
//!
//! - [`Netns`]: a private network namespace with a unique name, loopback up and IPv6 off (so the
//!   only traffic on a link is what the test makes; [`Netns::with_ipv6`] leaves it on, for
//!   tests over IPv6), deleted on drop even when the test panics.
//!   It runs commands inside (`ip netns exec`), spawns programs inside (the `serve` binary from
//!   [`serve_bin`]), waits for an interface to appear, configures the kernel's end of a tap, and
//!   lets a thread enter it with `setns(2)` for in-process kernel sockets ([`Netns::in_thread`]).
//! - [`Proc`]: a child process whose stdout and stderr are collected as they arrive; it can be
//!   waited on for a line, stopped with SIGINT ([`Proc::stop`]) and is killed on drop.
//! - [`parse_counters`]: the `Name value` lines `serve` prints at exit.
//! - [`unique_name`]: names (namespaces, interfaces) unique among tests running in parallel and
//!   at most 15 characters (IFNAMSIZ - 1).
//!
//! Timeouts here only guard against hangs (they are generous and fail the test with a message);
//! no test asserts on how long something takes.

#![allow(dead_code)] // each test crate uses a different subset

pub mod ethtool;
pub mod frames;
pub mod packets;
pub mod raw;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a helper waits for something that normally takes milliseconds before it gives up
/// and fails the test (a hang guard, not a timing assertion).
pub const PATIENCE: Duration = Duration::from_secs(30);

static SEQ: AtomicU32 = AtomicU32::new(0);

/// `prefix` + this process's id (hex) + a per-process sequence number: unique among the tests
/// running at the same time (nextest runs each test in its own process). At most 15 characters,
/// so it also serves as an interface name.
pub fn unique_name(prefix: &str) -> String {
    let name = format!(
        "{prefix}{:x}x{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    assert!(
        name.len() <= 15,
        "{name:?} is longer than an interface name may be"
    );
    name
}

/// The `serve` binary cargo built for this test run.
pub fn serve_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_serve"))
}

/// EAL arguments for programs started by tests: the main lcore may run on any CPU, so that two
/// tests' busy-polling programs are not both pinned to CPU 0 (notes/dpdk-on-this-machine.md §4).
pub fn eal_args_any_cpu() -> String {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("--eal-args=--lcores=0@(0-{})", n - 1)
}

/// Runs `program args` to completion and returns its output (whatever the exit status).
pub fn run(program: impl AsRef<Path>, args: &[&str]) -> Output {
    let program = program.as_ref();
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} {args:?}: {e}", program.display()))
}

/// Runs `program args`, fails the test unless it succeeds, and returns its stdout.
pub fn run_ok(program: impl AsRef<Path>, args: &[&str]) -> String {
    let program = program.as_ref();
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{} {args:?} failed ({}): {}{}",
        program.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A private network namespace, deleted on drop.
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates a namespace with a unique name, loopback up, IPv6 disabled.
    pub fn new() -> Netns {
        Netns::create(false)
    }

    /// Creates a namespace with a unique name, loopback up, IPv6 enabled (on interfaces that
    /// appear later too) but no router solicitations. Give the kernel's IPv6 addresses with
    /// [`Netns::add_addr`] (no duplicate address detection, so they are usable at once).
    pub fn with_ipv6() -> Netns {
        Netns::create(true)
    }

    fn create(ipv6: bool) -> Netns {
        let name = unique_name("engt");
        run_ok("ip", &["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        if ipv6 {
            ns.exec_ok(&[
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.disable_ipv6=0",
                "net.ipv6.conf.default.disable_ipv6=0",
                "net.ipv6.conf.default.router_solicitations=0",
            ]);
        } else {
            ns.exec_ok(&[
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
            ]);
        }
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n NS args`, which must succeed; returns its stdout.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        run_ok("ip", &all)
    }

    /// Runs `args` inside the namespace (`ip netns exec NS args`) and returns its output.
    pub fn exec(&self, args: &[&str]) -> Output {
        run("ip", &self.exec_args(args))
    }

    /// Like [`Netns::exec`], failing the test unless the command succeeds; returns its stdout.
    pub fn exec_ok(&self, args: &[&str]) -> String {
        run_ok("ip", &self.exec_args(args))
    }

    fn exec_args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = vec!["netns", "exec", &self.name];
        all.extend_from_slice(args);
        all
    }

    /// A `Command` that runs `program args` inside the namespace.
    pub fn command(&self, program: impl AsRef<Path>, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name])
            .arg(program.as_ref())
            .args(args);
        c
    }

    /// Starts `program args` inside the namespace. `ip netns exec` execs the program, so the
    /// child's pid is the program's own (signals reach it directly).
    pub fn spawn(&self, program: impl AsRef<Path>, args: &[&str]) -> Proc {
        Proc::spawn(self.command(program, args))
    }

    /// Waits until interface `ifname` exists in the namespace (a DPDK process creates its tap
    /// after EAL start-up). Fails the test after [`PATIENCE`].
    pub fn wait_for_link(&self, ifname: &str) {
        let start = Instant::now();
        loop {
            let out = run("ip", &["-n", &self.name, "link", "show", "dev", ifname]);
            if out.status.success() {
                return;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "interface {ifname} did not appear in namespace {} within {PATIENCE:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Configures the kernel's end of a tap: optionally its MAC address, then `cidr` (e.g.
    /// `10.77.0.1/24`), then link up.
    pub fn configure_peer(&self, ifname: &str, cidr: &str, mac: Option<&str>) {
        if let Some(mac) = mac {
            self.ip(&["link", "set", "dev", ifname, "address", mac]);
        }
        self.add_addr(ifname, cidr);
        self.ip(&["link", "set", "dev", ifname, "up"]);
    }

    /// Adds `cidr` to `ifname`; an IPv6 one without duplicate address detection (`nodad`),
    /// so the kernel sends from it at once (else it waits about a second, and a ping or
    /// connect in the meantime leaves from another address or fails).
    pub fn add_addr(&self, ifname: &str, cidr: &str) {
        if cidr.contains(':') {
            self.ip(&["-6", "addr", "add", cidr, "dev", ifname, "nodad"]);
        } else {
            self.ip(&["addr", "add", cidr, "dev", ifname]);
        }
    }

    /// The kernel's neighbour entry for `ip` on `ifname` (`ip neigh show`, `ip -6 neigh show`
    /// for an IPv6 address), e.g. `10.77.0.2 lladdr 02:00:00:00:00:02 REACHABLE`.
    pub fn neighbour(&self, ip: &str, ifname: &str) -> String {
        let family = if ip.contains(':') { "-6" } else { "-4" };
        self.ip(&[family, "neigh", "show", ip, "dev", ifname])
            .trim()
            .to_string()
    }

    /// Pings `dst` from inside the namespace: exactly `count` echo requests, `interval` seconds
    /// apart, then up to 10 s for the last replies. Returns ping's result (see [`PingResult`]).
    /// (No `-w`: with a deadline, ping keeps sending until `count` replies are in.)
    pub fn ping(&self, dst: &str, count: u32, interval: &str) -> PingResult {
        let count_s = count.to_string();
        let out = self.exec(&[
            "ping", "-n", "-q", "-c", &count_s, "-i", interval, "-W", "10", dst,
        ]);
        PingResult::parse(&out)
    }

    /// Moves the calling thread into the namespace (`setns(2)`, CLONE_NEWNET). Sockets the
    /// thread creates afterwards belong to the namespace. Use on a thread of its own (see
    /// [`Netns::in_thread`]): there is no way back to the original namespace here.
    pub fn enter_current_thread(&self) {
        let path = format!("/run/netns/{}", self.name);
        let f = File::open(&path).unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
        // SAFETY: f is an open namespace file descriptor; setns affects only this thread.
        let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(
            rc,
            0,
            "setns({path}) failed: {}",
            std::io::Error::last_os_error()
        );
    }

    /// Runs `f` on a new thread that has entered the namespace, and returns its result (a panic
    /// in `f` fails the test).
    pub fn in_thread<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        std::thread::scope(|s| {
            s.spawn(|| {
                self.enter_current_thread();
                f()
            })
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    }
}

impl Default for Netns {
    fn default() -> Self {
        Netns::new()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let out = run("ip", &["netns", "del", &self.name]);
        if !out.status.success() {
            eprintln!(
                "warning: ip netns del {} failed: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// What `ping` reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingResult {
    pub success: bool,
    pub transmitted: u32,
    pub received: u32,
    /// ping's whole output, for failure messages.
    pub output: String,
}

impl PingResult {
    fn parse(out: &Output) -> PingResult {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // "50 packets transmitted, 50 received, 0% packet loss, time 500ms"
        let number_before = |word: &str| -> u32 {
            text.lines()
                .find(|l| l.contains("packets transmitted"))
                .and_then(|l| {
                    l.split(',')
                        .find(|part| part.trim_end().ends_with(word))
                        .and_then(|part| part.split_whitespace().next())
                        .and_then(|n| n.parse().ok())
                })
                .unwrap_or(0)
        };
        PingResult {
            success: out.status.success(),
            transmitted: number_before("transmitted"),
            received: number_before("received"),
            output: text,
        }
    }
}

/// How a [`Proc`] ended, with everything it printed.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// The counters in stdout (see [`parse_counters`]).
    pub fn counters(&self) -> Counters {
        parse_counters(&self.stdout)
    }
}

/// A running child process; its output is collected by two reader threads. Killed (SIGKILL) on
/// drop if it is still running.
pub struct Proc {
    child: Option<Child>,
    what: String,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

fn collect(mut from: impl Read + Send + 'static, into: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut r = BufReader::new(&mut from);
        let mut line = Vec::new();
        while let Ok(n) = r.read_until(b'\n', &mut line) {
            if n == 0 {
                break;
            }
            into.lock()
                .expect("reader lock")
                .push_str(&String::from_utf8_lossy(&line));
            line.clear();
        }
    })
}

impl Proc {
    /// Starts `cmd` with stdin closed and stdout and stderr collected.
    pub fn spawn(mut cmd: Command) -> Proc {
        let what = format!("{cmd:?}");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            collect(child.stdout.take().expect("piped"), Arc::clone(&stdout)),
            collect(child.stderr.take().expect("piped"), Arc::clone(&stderr)),
        ];
        Proc {
            child: Some(child),
            what,
            stdout,
            stderr,
            readers,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// What stdout holds so far.
    pub fn stdout_so_far(&self) -> String {
        self.stdout.lock().expect("lock").clone()
    }

    /// What stderr holds so far.
    pub fn stderr_so_far(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    /// Waits until a line of stdout satisfies `pred` and returns that line. Fails the test if
    /// the process exits first or after [`PATIENCE`].
    pub fn wait_for_line(&mut self, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            if let Some(l) = self.stdout_so_far().lines().find(|l| pred(l)) {
                return l.to_string();
            }
            let exited = self
                .child
                .as_mut()
                .expect("running")
                .try_wait()
                .expect("try_wait");
            if let Some(status) = exited {
                // Let the readers drain what is left, then look once more.
                std::thread::sleep(Duration::from_millis(100));
                if let Some(l) = self.stdout_so_far().lines().find(|l| pred(l)) {
                    return l.to_string();
                }
                panic!(
                    "{} exited ({status}) before printing the expected line; stdout:\n{}\nstderr:\n{}",
                    self.what,
                    self.stdout_so_far(),
                    self.stderr_so_far()
                );
            }
            assert!(
                start.elapsed() < PATIENCE,
                "{} printed no expected line within {PATIENCE:?}; stdout:\n{}\nstderr:\n{}",
                self.what,
                self.stdout_so_far(),
                self.stderr_so_far()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends SIGINT (what Ctrl-C sends) and collects the output once the process has exited.
    /// Fails the test if it is still running after [`PATIENCE`].
    pub fn stop(self) -> Finished {
        let pid = self.pid() as libc::pid_t;
        // SAFETY: kill has no memory-safety preconditions; pid is our own child, not yet reaped.
        let rc = unsafe { libc::kill(pid, libc::SIGINT) };
        assert_eq!(rc, 0, "kill({pid}, SIGINT) failed");
        self.wait()
    }

    /// [`Proc::stop`], then asserts a clean exit: status 0 and nothing on stderr (`what`
    /// names the program in the failure message).
    pub fn stop_cleanly(self, what: &str) -> Finished {
        let done = self.stop();
        assert!(done.status.success(), "{what} exits 0 on SIGINT: {done:?}");
        assert!(
            done.stderr.trim().is_empty(),
            "{what} printed nothing on stderr: {}",
            done.stderr
        );
        done
    }

    /// Waits for the process to exit on its own and collects its output. Fails the test (and
    /// kills the process) if it is still running after [`PATIENCE`].
    pub fn wait(mut self) -> Finished {
        let start = Instant::now();
        let mut child = self.child.take().expect("running");
        let status = loop {
            if let Some(s) = child.try_wait().expect("try_wait") {
                break s;
            }
            if start.elapsed() >= PATIENCE {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{} did not exit within {PATIENCE:?}; stdout:\n{}\nstderr:\n{}",
                    self.what,
                    self.stdout_so_far(),
                    self.stderr_so_far()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        Finished {
            status,
            stdout: self.stdout_so_far(),
            stderr: self.stderr_so_far(),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Counters by name.
pub type Counters = BTreeMap<String, u64>;

/// Parses the `Name value` lines `serve` prints at exit (`IcmpInEchos   50`): a name that
/// starts with an ASCII capital and is alphanumeric, then an unsigned integer, nothing else.
/// Other lines (`serve: ...` banners) are ignored.
pub fn parse_counters(text: &str) -> Counters {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (name, value, rest) = (it.next()?, it.next()?, it.next());
            let name_ok = name.starts_with(|c: char| c.is_ascii_uppercase())
                && name.chars().all(|c| c.is_ascii_alphanumeric());
            (name_ok && rest.is_none())
                .then(|| value.parse().ok().map(|v| (name.to_string(), v)))
                .flatten()
        })
        .collect()
}

/// The value of counter `name`, failing the test if serve did not print it (run serve with
/// `--all-counters` so that zeros are printed too).
pub fn counter(c: &Counters, name: &str) -> u64 {
    *c.get(name)
        .unwrap_or_else(|| panic!("serve printed no counter {name}; it printed {c:?}"))
}

/// The MAC address in serve's start-up line (`serve: port tap:X (net_tap) mac 02:..:01 mtu ..`).
pub fn mac_in_banner(line: &str) -> String {
    let mut words = line.split_whitespace();
    words
        .find(|w| *w == "mac")
        .and_then(|_| words.next())
        .filter(|m| m.len() == 17 && m.split(':').count() == 6)
        .unwrap_or_else(|| panic!("no MAC address in serve's banner {line:?}"))
        .to_ascii_lowercase()
}
