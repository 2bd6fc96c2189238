//! The run: from options to a [`Plan`] (what each worker does), the worker-side phase logic
//! ([`Pacer`]), and the coordinator on the main thread ([`coordinate`]): warm-up, measurement,
//! drain, with a progress line each second.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use engine::Counters;

use super::args::{Arrivals, CloseKind, Cmd, Common};
use super::net::Net;
use super::proto::{self, Proto};
use super::report;
use super::stats::{Control, Stats, phase};
use super::workload::churn::{Churn, ChurnConfig};
use super::workload::rpc::{OpenLoop, Rpc, RpcConfig};
use super::workload::stream::{Direction, Stream, StreamConfig};
use super::workload::{AnyWorkload, Workload};
use crate::servers::{Mode as ServerMode, ServerStats};

/// What to run, resolved from the options.
#[derive(Clone, Debug)]
pub struct Plan {
    pub mode: &'static str,
    pub common: Common,
    /// Client workers (cores).
    pub cores: usize,
    /// Connections over all workers.
    pub conns: usize,
    pub pipeline: usize,
    pub req_size: usize,
    pub resp_size: usize,
    pub proto: Proto,
    pub path: String,
    pub rate: Option<f64>,
    pub arrivals: Option<Arrivals>,
    pub direction: Option<Direction>,
    pub close: Option<CloseKind>,
    pub write_size: usize,
    pub window: usize,
}

impl Plan {
    pub fn new(cmd: &Cmd) -> Plan {
        let common = cmd.common().clone();
        // Embedded: the engine without --port (whatever the target), the kernel without
        // --target.
        let embedded = common.engine.port.is_none()
            && (common.target.is_none() || common.stack == super::args::StackKind::Engine);
        let embedded_http = embedded && common.server == ServerMode::Http;
        let mut p = Plan {
            mode: "rpc",
            cores: common.cores.max(1),
            common,
            conns: 1,
            pipeline: 1,
            req_size: 0,
            resp_size: 0,
            proto: Proto::Echo,
            path: "/".into(),
            rate: None,
            arrivals: None,
            direction: None,
            close: None,
            write_size: 0,
            window: 0,
        };
        let req = match cmd {
            Cmd::Rpc(a) => {
                p.conns = a.conns;
                p.pipeline = a.pipeline;
                Some(&a.req)
            }
            Cmd::Rate(a) => {
                p.mode = "rate";
                p.conns = a.conns;
                p.pipeline = a.pipeline;
                p.rate = Some(a.rate);
                p.arrivals = Some(a.arrivals);
                Some(&a.req)
            }
            Cmd::Stream(a) => {
                p.mode = "stream";
                p.conns = a.conns;
                p.direction = Some(a.direction);
                p.write_size = a.write_size.max(1);
                p.window = a.window.max(1);
                None
            }
            Cmd::Churn(a) => {
                p.mode = "churn";
                p.conns = a.conns;
                p.close = Some(a.close);
                Some(&a.req)
            }
        };
        if let Some(r) = req {
            p.req_size = r.req_size.max(1);
            p.resp_size = r.resp_size.unwrap_or(r.req_size).max(1);
            p.proto = if embedded_http { Proto::Http } else { r.proto };
            p.path = r.path.clone();
        }
        p.conns = p.conns.max(1);
        p.pipeline = p.pipeline.max(1);
        // A worker without a connection would idle: no more workers than connections.
        p.cores = p.cores.min(p.conns);
        p
    }

    /// Connections of worker `w`.
    pub fn conns_of(&self, w: usize) -> usize {
        self.conns / self.cores + usize::from(w < self.conns % self.cores)
    }

    /// The workload of worker `w`; `host` goes into HTTP requests.
    pub fn workload<C: Copy + std::fmt::Debug>(&self, w: usize, host: &str) -> AnyWorkload<C> {
        let conns = self.conns_of(w);
        let request = proto::request(self.proto, self.req_size, host, &self.path);
        match self.mode {
            "stream" => AnyWorkload::Stream(Stream::new(StreamConfig {
                conns,
                direction: self.direction.unwrap_or(Direction::Tx),
                chunk: self.write_size,
                window: self.window,
            })),
            "churn" => AnyWorkload::Churn(Churn::new(ChurnConfig {
                conns,
                proto: self.proto,
                request,
                resp_size: self.resp_size,
                close_rst: self.close == Some(CloseKind::Rst),
            })),
            _ => AnyWorkload::Rpc(Rpc::new(RpcConfig {
                conns,
                pipeline: self.pipeline,
                proto: self.proto,
                request,
                resp_size: self.resp_size,
                open_loop: self.rate.map(|r| OpenLoop {
                    rate: r / self.cores as f64,
                    poisson: self.arrivals == Some(Arrivals::Poisson),
                    seed: arrival_seed(self.common.engine.seed)
                        ^ (w as u64).wrapping_mul(0x9e37_79b9),
                }),
                handshakes: self.common.handshakes,
            })),
        }
    }
}

/// The server side of an embedded run.
#[derive(Clone, Debug, Default)]
pub struct ServerSide {
    pub stats: ServerStats,
    /// The engine server's counters (summed over its cores); `None` for a kernel server.
    pub counters: Option<Counters>,
}

/// Everything a run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The workers' measurements, merged.
    pub stats: Stats,
    /// The measured time.
    pub measured: Duration,
    /// The client engine's counters (summed over cores).
    pub client_counters: Option<Counters>,
    pub server: Option<ServerSide>,
    /// What ran where, for the report.
    pub setup: String,
    pub target: String,
    pub embedded: bool,
}

/// Worker-side handling of the phases the coordinator sets: opens the window, starts the
/// drain, decides when to stop, and publishes the running totals.
pub struct Pacer {
    idx: usize,
    seen: u8,
    drain_ns: u64,
    drain_until: u64,
    next_publish: u64,
}

/// How often a worker publishes its totals.
const PUBLISH_NS: u64 = 20_000_000;

/// Longest the measurement waits past the warm-up for connections still opening.
const OPEN_WAIT: Duration = Duration::from_secs(5);

impl Pacer {
    pub fn new(idx: usize, drain: f64) -> Pacer {
        Pacer {
            idx,
            seen: phase::WARMUP,
            drain_ns: (drain.max(0.0) * 1e9) as u64,
            drain_until: u64::MAX,
            next_publish: 0,
        }
    }

    /// Follows the coordinator's phase at `now`; returns false once the worker has finished
    /// (every connection released).
    pub fn step<C, N, W>(&mut self, ctl: &Control, wl: &mut W, net: &mut N, now: u64) -> bool
    where
        C: Copy + std::fmt::Debug,
        N: Net<Conn = C>,
        W: Workload<C>,
    {
        let p = ctl.phase();
        if p != self.seen {
            if self.seen < phase::MEASURE && p >= phase::MEASURE {
                wl.stats().window_start = now;
            }
            if self.seen < phase::DRAIN && p >= phase::DRAIN {
                let s = wl.stats();
                if s.window_start == u64::MAX {
                    s.window_start = now; // stopped during the warm-up: an empty window
                }
                s.window_end = now;
                wl.drain(net, now);
                self.drain_until = now.saturating_add(self.drain_ns);
            }
            self.seen = p;
        }
        if now >= self.next_publish {
            self.next_publish = now + PUBLISH_NS;
            let live = &ctl.live[self.idx];
            live.publish(wl.stats());
            live.opening
                .store(u64::from(wl.opening()), Ordering::Relaxed);
        }
        if self.seen >= phase::DRAIN
            && (wl.drained() || now >= self.drain_until || self.seen == phase::STOP)
        {
            wl.finish(net, now);
            ctl.live[self.idx].publish(wl.stats());
            return false;
        }
        true
    }

    /// Marks the worker done (after its last poll).
    pub fn done(&self, ctl: &Control) {
        ctl.live[self.idx].done.store(1, Ordering::Release);
    }
}

/// Marks worker `idx` done and started when dropped, so that a worker that panics does not
/// leave the coordinator waiting for it (the panic then surfaces at `join`).
pub struct DoneGuard<'a>(pub &'a Control, pub usize);

impl Drop for DoneGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.worker_started();
            self.0.live[self.1].done.store(1, Ordering::Release);
        }
    }
}

/// Runs the timeline on the calling thread: warm-up, measurement, drain, printing a progress
/// line each second unless `quiet`. Returns the measured duration once every worker is done.
pub fn coordinate(ctl: &Control, common: &Common) -> Duration {
    // Set-up (stacks, pools, connection tables) takes a while on a busy machine: the warm-up
    // starts when every worker has opened its connections (a worker that died is not waited
    // for beyond a minute).
    let setup = Instant::now();
    while !ctl.all_started()
        && !crate::signal::stopped()
        && setup.elapsed() < Duration::from_secs(60)
        && !ctl.live.iter().any(|l| l.done.load(Ordering::Acquire) != 0)
    {
        nap(Duration::from_millis(1));
    }
    let t0 = Instant::now();
    let warm = Duration::from_secs_f64(common.warmup.max(0.0));
    let dur = Duration::from_secs_f64(common.duration.max(0.0));
    let drain = Duration::from_secs_f64(common.drain.max(0.0));
    let mut last = [0u64; 6];
    let mut last_t = t0;
    let mut next_line = t0 + Duration::from_secs(1);
    let mut measure_at: Option<Instant> = None;
    let mut drain_at: Option<Instant> = None;
    let all_done = || ctl.live.iter().all(|l| l.done.load(Ordering::Acquire) != 0);
    loop {
        let now = Instant::now();
        // The measurement starts after the warm-up, once every connection asked for has had
        // its first attempt (paced, see `workload::Opener`), or OPEN_WAIT later at most.
        let opened = !ctl.opening() || now >= t0 + warm + OPEN_WAIT;
        if measure_at.is_none() && drain_at.is_none() && now >= t0 + warm && opened {
            ctl.set_phase(phase::MEASURE);
            measure_at = Some(now);
        }
        let stop_asked = crate::signal::stopped();
        if drain_at.is_none()
            && (stop_asked || measure_at.is_some_and(|m| now >= m + dur) || all_done())
        {
            ctl.set_phase(phase::DRAIN);
            drain_at = Some(now);
        }
        if let Some(d) = drain_at {
            if all_done() {
                break;
            }
            if now >= d + drain + Duration::from_secs(1) {
                ctl.set_phase(phase::STOP);
            }
        }
        if now >= next_line {
            let cur = sum_live(ctl);
            if !common.quiet {
                let label = match (measure_at, drain_at) {
                    (_, Some(_)) => "drain",
                    (None, _) => "warmup",
                    _ => "",
                };
                eprintln!(
                    "{}",
                    report::progress_line(now - t0, now - last_t, &last, &cur, label)
                );
            }
            last = cur;
            last_t = now;
            next_line += Duration::from_secs(1);
        }
        nap(Duration::from_millis(5));
    }
    match (measure_at, drain_at) {
        (Some(m), Some(d)) => d - m,
        _ => Duration::ZERO,
    }
}

/// Sleeps about `d`, to an absolute deadline on the monotonic clock. net_tap signals the
/// process on every received frame (its SIGIO trigger, a real-time signal); relative sleeps
/// restarted after such interruptions were seen to come back with a remaining time of tens of
/// seconds (the coordinator then slept through the whole run). An absolute deadline cannot
/// drift, whatever interrupts it.
fn nap(d: Duration) {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-parameter.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    let ns = ts.tv_nsec as u64 + d.subsec_nanos() as u64;
    ts.tv_sec += d.as_secs() as libc::time_t + (ns / 1_000_000_000) as libc::time_t;
    ts.tv_nsec = (ns % 1_000_000_000) as _;
    loop {
        // SAFETY: ts is a valid absolute deadline; no remaining time is written with ABSTIME.
        let rc = unsafe {
            libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &ts,
                std::ptr::null_mut(),
            )
        };
        if rc != libc::EINTR {
            return;
        }
    }
}

fn sum_live(ctl: &Control) -> [u64; 6] {
    let mut s = [0u64; 6];
    for l in &ctl.live {
        for (a, b) in s.iter_mut().zip(l.read()) {
            *a += b;
        }
    }
    s
}

/// The CPUs this process may run on, read before the EAL pins the main thread.
pub fn cpus() -> Vec<usize> {
    core_affinity::get_core_ids()
        .map(|v| v.into_iter().map(|c| c.id).collect::<Vec<_>>())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            let n = std::thread::available_parallelism().map_or(1, |n| n.get());
            (0..n).collect()
        })
}

/// Pins the calling thread to `cpu` (a warning if that fails).
pub fn pin(cpu: usize) {
    if !core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
        eprintln!("loadgen: warning: cannot pin a thread to CPU {cpu}");
    }
}

/// The seed of the open loop's arrival times: `--seed` when given, else a fresh random one.
fn arrival_seed(seed: Option<u64>) -> u64 {
    seed.unwrap_or_else(|| engine::rand::Rng::from_entropy().next_u64())
}
