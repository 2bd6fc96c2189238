//! Declared by each test crate that uses it as `#[path = "common/tcp.rs"] mod tcp;` beside
//! `mod common;` (it refers to `crate::common`).
//!
//! Helpers for TCP tests with the Linux kernel as the engine's peer (issue 3, "The Linux kernel
//! as the peer", "TSO on net_tap"), on top of [`crate::common::Netns`] and [`crate::common::Proc`]:
//!
//! - [`ServePeer`]: the `serve` binary (echo, sink or http) on a tap in a private namespace,
//!   the kernel's end of the tap configured; stopped with SIGINT for its counters.
//! - [`EngineHost`]: an engine `Stack` *in the test process*, on a tap it creates in the
//!   namespace of the calling thread (which must have entered it, see
//!   [`crate::common::Netns::in_thread`]), driven by the real clock ([`apps::clock::Clock`]);
//!   [`EngineHost::run_until`] polls it until a condition holds, with a hang guard.
//! - [`kernel_connect`], [`kernel_listen`]: kernel sockets created inside the namespace (a
//!   socket belongs to the namespace it was created in, and is then usable from any thread).
//! - [`pattern`], [`sha256`], [`rate`]: test data and its checks.
//!
//! Timeouts only guard against hangs and fail with a message; nothing asserts on durations.

#![allow(dead_code)] // each test crate uses a different subset

use std::io::{Read, Write};
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream,
};
use std::time::{Duration, Instant};

use apps::clock::Clock;
use engine::buf::{PoolSizes, Pools};
use engine::dev::dpdk::{DpdkQueue, Port, PortConfig};
use engine::tcp::{ConnId, ConnOptions, Event, TcpError};
use engine::{Stack, StackConfig};
use sha2::{Digest, Sha256};

use crate::common::{
    Counters, Netns, Proc, eal_args_any_cpu, mac_in_banner, serve_bin, unique_name,
};

/// The kernel's address on every test link (each test has a namespace of its own).
pub const KERNEL_IP: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 1);
/// The engine's address.
pub const ENGINE_IP: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 2);
/// The kernel's IPv6 address on a dual-stack link ([`ServePeer::start_dual`]).
pub const KERNEL_IP6: Ipv6Addr = Ipv6Addr::new(0xfd78, 0, 0, 0, 0, 0, 0, 1);
/// The engine's IPv6 address on a dual-stack link.
pub const ENGINE_IP6: Ipv6Addr = Ipv6Addr::new(0xfd78, 0, 0, 0, 0, 0, 0, 2);
/// The MAC given to the kernel's end of the tap, distinct from the engine's.
pub const KERNEL_MAC: &str = "02:6b:65:72:6e:01";

/// How long a bulk transfer (64 MiB) may take before the test gives up (a hang guard).
pub const BULK_PATIENCE: Duration = Duration::from_secs(120);

/// `serve MODE` on a tap in a private namespace, the kernel's end configured. Fields drop in
/// order: serve is killed (if the test failed before [`ServePeer::stop`]) before the namespace
/// goes.
pub struct ServePeer {
    pub serve: Proc,
    pub tap: String,
    pub ns: Netns,
}

impl ServePeer {
    /// Starts `serve mode [extra...]` with every counter printed at exit, waits for it to be
    /// ready and configures the kernel's end of its tap. Its main lcore may run on any CPU
    /// ([`eal_args_any_cpu`]) unless `extra` has `--eal-args=...` of its own.
    pub fn start(mode: &str, extra: &[&str]) -> ServePeer {
        ServePeer::start_with(mode, extra, false)
    }

    /// [`ServePeer::start`] on both families: serve also has [`ENGINE_IP6`], the kernel
    /// [`KERNEL_IP6`].
    pub fn start_dual(mode: &str, extra: &[&str]) -> ServePeer {
        ServePeer::start_with(mode, extra, true)
    }

    fn start_with(mode: &str, extra: &[&str], ipv6: bool) -> ServePeer {
        let ns = if ipv6 {
            Netns::with_ipv6()
        } else {
            Netns::new()
        };
        let tap = unique_name("tt");
        let port = format!("tap:{tap}");
        let ip = format!("{ENGINE_IP}/24");
        let ip6 = format!("{ENGINE_IP6}/64");
        let eal = eal_args_any_cpu();
        let mut args = vec![mode, "--port", &port, "--ip", &ip, "--all-counters"];
        if !extra.iter().any(|a| a.starts_with("--eal-args")) {
            args.push(&eal);
        }
        if ipv6 {
            args.extend_from_slice(&["--ip", &ip6]);
        }
        args.extend_from_slice(extra);
        let mut serve = ns.spawn(serve_bin(), &args);
        let banner = serve.wait_for_line(|l| l.starts_with("serve: port"));
        serve.wait_for_line(|l| l == "serve: ready");
        assert_ne!(
            mac_in_banner(&banner),
            KERNEL_MAC,
            "the test needs distinct MACs"
        );
        ns.wait_for_link(&tap);
        ns.configure_peer(&tap, &format!("{KERNEL_IP}/24"), Some(KERNEL_MAC));
        if ipv6 {
            ns.add_addr(&tap, &format!("{KERNEL_IP6}/64"));
        }
        ServePeer { serve, tap, ns }
    }

    /// A kernel TCP connection from inside the namespace to the engine's `port`.
    pub fn connect(&self, port: u16) -> std::io::Result<TcpStream> {
        kernel_connect(&self.ns, ENGINE_IP, port)
    }

    /// Stops serve with SIGINT; asserts a clean exit with nothing on stderr and returns the
    /// counters it printed.
    pub fn stop(self) -> Counters {
        let ServePeer { serve, ns, .. } = self;
        let done = serve.stop_cleanly("serve");
        drop(ns);
        done.counters()
    }
}

/// Connects from inside `ns` to `ip:port`, either family (10 s connect timeout; 60 s read and
/// write timeouts, so that a stalled transfer fails the test instead of hanging it).
pub fn kernel_connect(ns: &Netns, ip: impl Into<IpAddr>, port: u16) -> std::io::Result<TcpStream> {
    let ip = ip.into();
    ns.in_thread(|| {
        let addr = SocketAddr::new(ip, port);
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        s.set_write_timeout(Some(Duration::from_secs(60)))?;
        Ok(s)
    })
}

/// A kernel listener inside `ns` on `0.0.0.0:port` (it needs no address configured yet).
pub fn kernel_listen(ns: &Netns, port: u16) -> TcpListener {
    kernel_listen_on(
        ns,
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)),
    )
}

/// A kernel listener inside `ns` on `addr` (`[::]:port` takes both families).
pub fn kernel_listen_on(ns: &Netns, addr: SocketAddr) -> TcpListener {
    ns.in_thread(|| {
        TcpListener::bind(addr).unwrap_or_else(|e| panic!("kernel listener on {addr}: {e}"))
    })
}

/// Accepts one connection on `l`, failing the test after `patience`.
pub fn accept_within(l: &TcpListener, patience: Duration) -> TcpStream {
    l.set_nonblocking(true).expect("nonblocking listener");
    let start = Instant::now();
    loop {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).expect("blocking stream");
                s.set_read_timeout(Some(Duration::from_secs(60)))
                    .expect("read timeout");
                s.set_write_timeout(Some(Duration::from_secs(60)))
                    .expect("write timeout");
                return s;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                ) =>
            {
                assert!(
                    start.elapsed() < patience,
                    "the kernel listener accepted nothing within {patience:?}"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// `read(2)` on a kernel socket, retried on `EINTR`. Needed in processes that run an engine
/// on net_tap: the tap PMD has the kernel signal the process whenever a frame reaches its tun
/// descriptor (O_ASYNC; real-time signal 35 here), with a handler installed without
/// SA_RESTART, so blocking system calls in every other thread fail with EINTR
/// (`read_exact`, `read_to_end` and `write_all` retry by themselves; a bare `read` does not).
pub fn read_retry(s: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match s.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// `len` bytes of a deterministic, incompressible-looking pattern (xorshift64*).
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        v.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    v.truncate(len);
    v
}

/// SHA-256 of `data`, as hex.
pub fn sha256(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// Hex of a digest.
pub fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `data` on `s` from a second thread, shuts down writing, reads until end of file.
/// Returns what was read and how long it all took.
pub fn send_and_read_back(s: TcpStream, data: &[u8]) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut w = s.try_clone().expect("clone");
    let got = std::thread::scope(|sc| {
        let writer = sc.spawn(move || {
            for chunk in data.chunks(256 * 1024) {
                w.write_all(chunk).expect("the client writes");
            }
            w.shutdown(Shutdown::Write).expect("shutdown(SHUT_WR)");
        });
        let mut got = Vec::with_capacity(data.len());
        (&s).read_to_end(&mut got)
            .expect("the client reads until end of file");
        writer.join().expect("writer");
        got
    });
    (got, start.elapsed())
}

/// `bytes` over `d`, as "N MiB/s (M Mbit/s)", for reports (never asserted on).
pub fn rate(bytes: usize, d: Duration) -> String {
    let s = d.as_secs_f64().max(1e-9);
    format!(
        "{:.1} MiB/s ({:.0} Mbit/s)",
        bytes as f64 / s / (1 << 20) as f64,
        bytes as f64 * 8.0 / s / 1e6
    )
}

/// An engine stack in this process, on a tap created in the calling thread's namespace.
/// Not `Send`: create and use it on one thread (the one that entered the namespace). The port
/// is closed on drop, which removes the tap.
pub struct EngineHost {
    pub stack: Stack<DpdkQueue>,
    pub clock: Clock,
    pub port: Port,
    pub tap: String,
    /// Every event the stack produced, in order (run_until records them).
    pub events: Vec<Event>,
}

impl EngineHost {
    /// Starts the EAL (once per process), creates pools and the tap `tap` in the calling
    /// thread's namespace, builds a stack at [`ENGINE_IP`] and configures the kernel's end of the
    /// tap in `ns` ([`KERNEL_IP`], [`KERNEL_MAC`]). Call it on a thread that entered `ns`.
    pub fn open(ns: &Netns, tap: &str) -> EngineHost {
        let eal = engine::eal::init_for_tests();
        let pools = Pools::create(&unique_name("kp"), &PoolSizes::default())
            .unwrap_or_else(|e| panic!("pools: {e}"));
        let spec = format!("tap:{tap}")
            .parse()
            .unwrap_or_else(|e| panic!("port spec tap:{tap}: {e}"));
        let port = Port::open(eal, &spec, &PortConfig::new(pools.data))
            .unwrap_or_else(|e| panic!("opening tap:{tap}: {e}"));
        ns.wait_for_link(tap);
        ns.configure_peer(tap, &format!("{KERNEL_IP}/24"), Some(KERNEL_MAC));
        let mut cfg = StackConfig::new(ENGINE_IP, 24);
        cfg.seed = Some(u64::from(std::process::id()));
        let stack = Stack::new(port.queue(0), pools, cfg);
        let clock = Clock::new(eal);
        EngineHost {
            stack,
            clock,
            port,
            tap: tap.to_string(),
            events: Vec::new(),
        }
    }

    /// One poll at the current time; records the events.
    pub fn poll(&mut self) -> usize {
        let n = self.stack.poll(self.clock.now());
        while let Some(ev) = self.stack.poll_event() {
            self.events.push(ev);
        }
        n
    }

    /// Polls until `f` returns `Some`, and returns that. Fails the test with `what`, the
    /// stack's counters and `diag`'s connection (if any) after `patience`.
    pub fn run_until<R>(
        &mut self,
        what: &str,
        patience: Duration,
        diag: Option<ConnId>,
        mut f: impl FnMut(&mut Stack<DpdkQueue>, &[Event]) -> Option<R>,
    ) -> R {
        let start = Instant::now();
        loop {
            self.poll();
            if let Some(r) = f(&mut self.stack, &self.events) {
                return r;
            }
            if start.elapsed() > patience {
                panic!(
                    "engine: {what}: not done within {patience:?}\nconnection: {:?}\nevents: {:?}\ncounters: {:?}\nport: {:?}",
                    diag.and_then(|c| self.stack.info(c)),
                    self.events.iter().rev().take(10).collect::<Vec<_>>(),
                    self.stack
                        .counters()
                        .entries()
                        .into_iter()
                        .filter(|(_, v)| *v != 0)
                        .collect::<Vec<_>>(),
                    self.port.stats()
                );
            }
        }
    }

    /// Connects to `ip:port` and waits for `Event::Connected`; fails the test on an error.
    pub fn connect(&mut self, ip: Ipv4Addr, port: u16, opts: Option<ConnOptions>) -> ConnId {
        self.poll();
        let c = self
            .stack
            .connect(ip, port, opts)
            .unwrap_or_else(|e| panic!("engine connect to {ip}:{port}: {e}"));
        self.run_until(
            "connect",
            Duration::from_secs(30),
            Some(c),
            |_, evs| match evs
                .iter()
                .find(|e| matches!(e, Event::Connected(x) | Event::Closed(x, _) if *x == c))
            {
                Some(Event::Connected(_)) => Some(()),
                Some(other) => panic!("engine connect to {ip}:{port} failed: {other:?}"),
                None => None,
            },
        );
        c
    }

    /// Sends as much of `data` as the send buffer takes; returns the bytes taken (0 when full).
    /// Fails the test on an error other than `WouldBlock`.
    pub fn send_some(stack: &mut Stack<DpdkQueue>, c: ConnId, data: &[u8]) -> usize {
        if data.is_empty() {
            return 0;
        }
        match stack.send(c, data) {
            Ok(n) => n,
            Err(TcpError::WouldBlock) => 0,
            Err(e) => panic!("engine send: {e}; {:?}", stack.info(c)),
        }
    }

    /// Reads what is readable into `sink`: `Some(true)` at end of file, `Some(false)` when
    /// nothing more is readable now. Fails the test on an error.
    pub fn recv_all(
        stack: &mut Stack<DpdkQueue>,
        c: ConnId,
        buf: &mut [u8],
        mut sink: impl FnMut(&[u8]),
    ) -> bool {
        loop {
            match stack.recv(c, buf) {
                Ok(0) => return true,
                Ok(n) => sink(&buf[..n]),
                Err(TcpError::WouldBlock) => return false,
                Err(e) => panic!("engine recv: {e}; {:?}", stack.info(c)),
            }
        }
    }
}

impl Drop for EngineHost {
    fn drop(&mut self) {
        self.port.clone().close();
    }
}
