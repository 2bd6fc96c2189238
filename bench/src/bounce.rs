//! `bench bounce`: the raw link ceiling. Frames go back and forth over a DPDK link with no TCP
//! at all: the *sender* keeps a window of W frames in flight (each stamped with the TSC), the
//! *reflector* swaps the MAC addresses of what it receives and sends it straight back, and the
//! sender sends every frame that comes back out again (restamped) until the measurement ends.
//! What the sender receives per second is the link's frame rate in each direction (every frame
//! crosses the link twice); no mbuf is allocated in the steady state, so this is what the link
//! and the PMD can do, not the mempool.
//!
//! - `ring`: a net_ring pair in this process; `--cores 1` runs both sides in turn on one thread,
//!   `--cores 2` gives each side a thread on its own CPU (the first two CPUs of this process).
//! - `memif`: two processes, `--role server` (reflector, until SIGINT/SIGTERM) and
//!   `--role client` (sender, measures and reports).

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use engine::buf::{DEFAULT_DATA_ROOM, Mempool, Pkt};
use engine::dev::Device;
use engine::dev::dpdk::{DpdkQueue, Port, PortConfig, Want};
use engine::dev::spec::{MemifRole, PortSpec};
use engine::eal::{self, Eal, EalConfig};
use engine::time::Instant;
use serde::Serialize;

use crate::cli::{BounceArgs, Link, Role};

const BURST: usize = 32;
const ETHERTYPE: [u8; 2] = [0x88, 0xb5]; // IEEE local experimental
const SENDER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0xbe, 0x01];
const REFLECTOR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0xbe, 0x02];
/// Offset of the TSC stamp in a frame.
const STAMP: usize = 14;

/// The bouncer's report.
#[derive(Serialize, Debug, Clone)]
pub struct BounceReport {
    pub link: Link,
    pub cores: usize,
    pub window: usize,
    pub frame_len: usize,
    pub duration_s: f64,
    /// Frames the sender got back during the measurement.
    pub frames: u64,
    /// Frames per second in each direction.
    pub frames_per_sec: f64,
    /// Mean round trip of a frame, µs.
    pub mean_rtt_us: f64,
    /// Frames the sender transmitted over the whole run.
    pub sent: u64,
    pub alloc_failures: u64,
    pub setup: String,
}

static STOPPED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOPPED.store(true, Ordering::Relaxed);
}

/// The CPUs this process may run on.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: set is a plain bitmask filled by the kernel.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return vec![0];
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

/// Pins the calling thread to `cpu`.
fn pin(cpu: usize) {
    // SAFETY: as above; 0 names the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            eprintln!("bench bounce: warning: cannot pin a thread to CPU {cpu}");
        }
    }
}

fn start_eal(cpus: &[usize]) -> Result<Eal, String> {
    let list: Vec<String> = cpus.iter().map(|c| c.to_string()).collect();
    let cfg = EalConfig {
        memory_mb: 256,
        log_level: Some("error".into()),
        extra_args: vec![format!("--lcores=0@({})", list.join(","))],
        ..EalConfig::default()
    };
    eal::init(&cfg).map_err(|e| e.to_string())
}

fn port_config(pool: Mempool) -> PortConfig {
    let mut cfg = PortConfig::new(pool);
    cfg.tso = Want::Off;
    cfg.checksum = Want::Off;
    cfg.link_wait = Duration::from_secs(30);
    cfg
}

/// The side that keeps W frames in flight and measures.
struct Sender {
    q: DpdkQueue,
    pool: Mempool,
    window: usize,
    frame: usize,
    inflight: usize,
    rx: Vec<Pkt>,
    tx: Vec<Pkt>,
    stopping: bool,
    received: u64,
    sent: u64,
    rtt_ticks: u128,
    rtt_n: u64,
    alloc_failures: u64,
}

impl Sender {
    fn new(q: DpdkQueue, pool: Mempool, window: usize, frame: usize) -> Sender {
        Sender {
            q,
            pool,
            window: window.max(1),
            frame: frame.clamp(STAMP + 8, 1514),
            inflight: 0,
            rx: Vec::with_capacity(BURST),
            tx: Vec::with_capacity(window.max(BURST)),
            stopping: false,
            received: 0,
            sent: 0,
            rtt_ticks: 0,
            rtt_n: 0,
            alloc_failures: 0,
        }
    }

    fn fresh(&mut self, t: u64) -> Option<Pkt> {
        let mut p = Pkt::alloc(&self.pool)?;
        let d = p.append(self.frame)?;
        d.fill(0);
        d[0..6].copy_from_slice(&REFLECTOR_MAC);
        d[6..12].copy_from_slice(&SENDER_MAC);
        d[12..14].copy_from_slice(&ETHERTYPE);
        d[STAMP..STAMP + 8].copy_from_slice(&t.to_le_bytes());
        Some(p)
    }

    #[inline]
    fn step(&mut self, t: u64) {
        let n = self.q.rx_burst(Instant::ZERO, &mut self.rx, BURST);
        if n > 0 {
            self.inflight = self.inflight.saturating_sub(n);
            self.received += n as u64;
            for mut p in self.rx.drain(..) {
                let Some(d) = p.data_mut() else { continue };
                if d.len() < STAMP + 8 {
                    continue;
                }
                let mut b = [0u8; 8];
                b.copy_from_slice(&d[STAMP..STAMP + 8]);
                self.rtt_ticks += u128::from(t.saturating_sub(u64::from_le_bytes(b)));
                self.rtt_n += 1;
                if !self.stopping {
                    d[0..6].copy_from_slice(&REFLECTOR_MAC);
                    d[6..12].copy_from_slice(&SENDER_MAC);
                    d[STAMP..STAMP + 8].copy_from_slice(&t.to_le_bytes());
                    self.tx.push(p);
                }
            }
        }
        if self.stopping {
            self.tx.clear();
            return;
        }
        while self.inflight + self.tx.len() < self.window {
            match self.fresh(t) {
                Some(p) => self.tx.push(p),
                None => {
                    self.alloc_failures += 1;
                    break;
                }
            }
        }
        if !self.tx.is_empty() {
            let s = self.q.tx_burst(Instant::ZERO, &mut self.tx);
            self.inflight += s;
            self.sent += s as u64;
        }
    }
}

/// The side that sends back what it receives.
struct Reflector {
    q: DpdkQueue,
    rx: Vec<Pkt>,
    tx: Vec<Pkt>,
}

impl Reflector {
    fn new(q: DpdkQueue) -> Reflector {
        Reflector {
            q,
            rx: Vec::with_capacity(BURST),
            tx: Vec::with_capacity(4096),
        }
    }

    #[inline]
    fn step(&mut self) {
        if self.q.rx_burst(Instant::ZERO, &mut self.rx, BURST) > 0 {
            for mut p in self.rx.drain(..) {
                if let Some(d) = p.data_mut()
                    && d.len() >= 12
                {
                    let mut dst = [0u8; 6];
                    dst.copy_from_slice(&d[0..6]);
                    d.copy_within(6..12, 0);
                    d[6..12].copy_from_slice(&dst);
                }
                self.tx.push(p);
            }
        }
        if !self.tx.is_empty() {
            self.q.tx_burst(Instant::ZERO, &mut self.tx);
        }
    }
}

/// The measurement timeline of the sender, on the TSC.
struct Timeline {
    hz: f64,
    warm_end: u64,
    meas_end: u64,
    drain_end: u64,
    start_count: Option<(u64, u64)>,
    end_count: Option<(u64, u64)>,
}

impl Timeline {
    fn new(eal: Eal, warmup: f64, duration: f64) -> Timeline {
        let hz = eal.tsc_hz() as f64;
        let t0 = eal::tsc();
        let warm_end = t0 + (warmup.max(0.0) * hz) as u64;
        let meas_end = warm_end + (duration.max(0.01) * hz) as u64;
        Timeline {
            hz,
            warm_end,
            meas_end,
            drain_end: meas_end + (0.2 * hz) as u64,
            start_count: None,
            end_count: None,
        }
    }

    /// Follows the phases; false once the sender is done.
    fn tick(&mut self, s: &mut Sender, t: u64) -> bool {
        if self.start_count.is_none() && t >= self.warm_end {
            self.start_count = Some((t, s.received));
            s.rtt_ticks = 0;
            s.rtt_n = 0;
        }
        if self.end_count.is_none() && t >= self.meas_end {
            self.end_count = Some((t, s.received));
            s.stopping = true;
        }
        !(s.stopping && (s.inflight == 0 || t >= self.drain_end))
    }

    fn report(&self, s: &Sender, a: &BounceArgs, setup: String) -> BounceReport {
        let (t0, c0) = self.start_count.unwrap_or((0, 0));
        let (t1, c1) = self.end_count.unwrap_or((t0, c0));
        let secs = t1.saturating_sub(t0) as f64 / self.hz;
        let frames = c1 - c0;
        BounceReport {
            link: a.link,
            cores: a.cores,
            window: s.window,
            frame_len: s.frame,
            duration_s: secs,
            frames,
            frames_per_sec: if secs > 0.0 {
                frames as f64 / secs
            } else {
                0.0
            },
            mean_rtt_us: if s.rtt_n > 0 {
                s.rtt_ticks as f64 / s.rtt_n as f64 / self.hz * 1e6
            } else {
                0.0
            },
            sent: s.sent,
            alloc_failures: s.alloc_failures,
            setup,
        }
    }
}

/// Runs the sender to the end of its timeline.
fn run_sender(eal: Eal, s: &mut Sender, a: &BounceArgs, mut also: impl FnMut()) -> Timeline {
    let mut tl = Timeline::new(eal, a.warmup, a.duration);
    loop {
        let t = eal::tsc();
        s.step(t);
        also();
        if !tl.tick(s, t) || STOPPED.load(Ordering::Relaxed) {
            break;
        }
    }
    tl
}

fn ring(a: &BounceArgs, cpus: &[usize]) -> Result<BounceReport, String> {
    if a.cores == 2 && cpus.len() < 2 {
        return Err(format!(
            "--cores 2 needs two CPUs; this process may use only {cpus:?}"
        ));
    }
    let eal = start_eal(cpus)?;
    let pool =
        Mempool::create("bnc", 16 * 1024 - 1, 256, DEFAULT_DATA_ROOM).map_err(|e| e.to_string())?;
    let (pa, pb) = Port::open_ring_pair(eal, &port_config(pool)).map_err(|e| e.to_string())?;
    let mut s = Sender::new(pa.queue(0), pool, a.window, a.frame);
    let mut r = Reflector::new(pb.queue(0));
    if a.cores <= 1 {
        pin(cpus[0]);
        let tl = run_sender(eal, &mut s, a, || r.step());
        let setup = format!(
            "net_ring pair in one process, one thread on CPU {} runs sender and reflector in turn",
            cpus[0]
        );
        return Ok(tl.report(&s, a, setup));
    }
    let stop = AtomicBool::new(false);
    let (c0, c1) = (cpus[0], cpus[1]);
    let tl = std::thread::scope(|sc| {
        let stop = &stop;
        sc.spawn(move || {
            eal::register_thread(eal);
            pin(c1);
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..64 {
                    r.step();
                }
            }
        });
        pin(c0);
        let tl = run_sender(eal, &mut s, a, || {});
        stop.store(true, Ordering::Relaxed);
        tl
    });
    let setup = format!(
        "net_ring pair in one process, sender thread on CPU {c0}, reflector thread on CPU {c1}"
    );
    Ok(tl.report(&s, a, setup))
}

fn memif(a: &BounceArgs, cpus: &[usize]) -> Result<Option<BounceReport>, String> {
    let eal = start_eal(cpus)?;
    pin(cpus[0]);
    let pool =
        Mempool::create("bnm", 16 * 1024 - 1, 256, DEFAULT_DATA_ROOM).map_err(|e| e.to_string())?;
    let role = match a.role {
        Role::Server => MemifRole::Server,
        Role::Client => MemifRole::Client,
    };
    let spec = PortSpec::Memif {
        socket: a.socket.clone(),
        role,
    };
    let port = Port::open(eal, &spec, &port_config(pool)).map_err(|e| e.to_string())?;
    match a.role {
        Role::Server => {
            println!("bounce: ready");
            let mut r = Reflector::new(port.queue(0));
            // Reflect until told to stop (or long after the sender must have finished).
            let limit = eal::tsc() + ((a.warmup + a.duration + 120.0) * eal.tsc_hz() as f64) as u64;
            while !STOPPED.load(Ordering::Relaxed) && eal::tsc() < limit {
                for _ in 0..64 {
                    r.step();
                }
            }
            Ok(None)
        }
        Role::Client => {
            let mut s = Sender::new(port.queue(0), pool, a.window, a.frame);
            let tl = run_sender(eal, &mut s, a, || {});
            let setup = format!(
                "memif {} between two processes (copy mode), sender on CPU {}",
                a.socket, cpus[0]
            );
            Ok(Some(tl.report(&s, a, setup)))
        }
    }
}

fn write_json(path: &Path, r: &BounceReport) -> Result<(), String> {
    let text = serde_json::to_string_pretty(r).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// `bench bounce`.
pub fn main(a: &BounceArgs) -> ExitCode {
    let handler: extern "C" fn(libc::c_int) = on_signal;
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
        libc::signal(libc::SIGTERM, handler as libc::sighandler_t);
    }
    let cpus = allowed_cpus();
    let res = match a.link {
        Link::Ring => ring(a, &cpus).map(Some),
        Link::Memif => memif(a, &cpus),
    };
    match res {
        Ok(Some(r)) => {
            println!(
                "bounce {:?}: {} B frames, window {}, {:.0} frames/s each way, mean RTT {:.2} us ({})",
                r.link, r.frame_len, r.window, r.frames_per_sec, r.mean_rtt_us, r.setup
            );
            if let Some(p) = &a.json
                && let Err(e) = write_json(p, &r)
            {
                eprintln!("bench bounce: {e}");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench bounce: {e}");
            ExitCode::FAILURE
        }
    }
}
