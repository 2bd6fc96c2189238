//! `bench vtime`: one bulk transfer between two engine stacks over the in-process simulated
//! link, in virtual time, with seeded random loss of data segments; the loss part of the matrix
//! runs it as a child process per (loss rate, seed), twice, to check that a seed gives the same
//! outcome every time.
//!
//! The set-up follows `engine/tests/sim` (the test suite's two-stack harness), kept small here
//! so that the benchmark does not depend on test code: stack A (10.0.0.1) and stack B
//! (10.0.0.2) on the two ends of a [`SimLink`] (bandwidth, one-way latency, a NIC queue), the
//! clock stepped to the stacks' next deadline. A sends `--bytes` of seeded pseudo-random data
//! on one connection and shuts down; B reads and checks every byte in order. Goodput is the
//! bytes over the virtual time from A's `Connected` to B's read of the last byte.
//!
//! Loss: [`DataLoss`] sits between A and its end of the link and drops each frame that carries
//! TCP payload with probability `--loss`, one draw per data frame from `Rng::new(seed)`; SYNs,
//! pure ACKs and B's frames are never dropped. It is the same rule as the nftables rule of the
//! real-link cells (data segments to the receiver), and it counts what it dropped, so
//! retransmitted ÷ lost compares like with like. (The test suite's `tcp_sim` bulk tests use the
//! engine's `FaultInjector` instead: loss both ways plus 1 % duplication and 1 % reordering.)

use std::collections::VecDeque;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use serde::{Deserialize, Serialize};

use engine::buf::{Mempool, Pkt, PoolSizes, Pools};
use engine::dev::sim::{SimConfig, SimLink, SimPort};
use engine::dev::{Device, DeviceCaps, TxFrames};
use engine::rand::Rng;
use engine::tcp::congestion::{Congestion, CongestionControl};
use engine::tcp::{ConnId, Event, TcpConfig, TcpError};
use engine::time::Instant;
use engine::wire::MacAddr;
use engine::{Stack, StackConfig, eal};

const IP_A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const IP_B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PORT: u16 = 9;

/// Polls in a row at one instant before the run is declared stuck.
const MAX_SAME_INSTANT: u32 = 100_000;

#[derive(Args, Debug, Clone)]
pub struct VtimeArgs {
    /// Probability that a data segment from the sender is lost, in percent.
    #[arg(long, default_value_t = 1.0)]
    pub loss: f64,
    /// Seed of the loss pattern (and of the stacks' ISNs and ports).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Bytes to transfer.
    #[arg(long, default_value_t = 16 << 20)]
    pub bytes: usize,
    /// Link rate in Mbit/s.
    #[arg(long, default_value_t = 1000)]
    pub rate_mbps: u64,
    /// Round-trip propagation delay in µs (half of it each way).
    #[arg(long, default_value_t = 1000)]
    pub rtt_us: u64,
    /// Frames the link's NIC queue holds in each direction.
    #[arg(long, default_value_t = 1024)]
    pub queue: usize,
    /// Give up after this much virtual time (seconds).
    #[arg(long, default_value_t = 600)]
    pub limit_s: u64,
    /// Write the outcome as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// What one virtual-time transfer gave.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct VtOutcome {
    pub loss_pct: f64,
    pub seed: u64,
    pub bytes: u64,
    pub rate_mbps: u64,
    pub rtt_us: u64,
    /// The congestion control the sender used (Linux's spelling).
    pub congestion: String,
    /// The sender's MSS (payload bytes per segment).
    pub mss: u32,
    /// Every byte arrived, in order, and matched what was sent.
    pub complete: bool,
    pub intact: bool,
    /// Why the run is not complete or not intact, if it is not.
    pub error: Option<String>,
    pub bytes_received: u64,
    /// Virtual seconds from `Connected` to the last byte read.
    pub elapsed_s: f64,
    pub goodput_mbps: f64,
    /// Sender counters (`TcpExtTCPTimeouts`, `TcpRetransSegs`, `TcpExtTCPFastRetrans`).
    pub rtos: u64,
    pub retrans_segs: u64,
    pub fast_retrans: u64,
    /// Data frames the sender transmitted, and those [`DataLoss`] dropped.
    pub data_segs: u64,
    pub lost_segs: u64,
    pub lost_bytes: u64,
    /// The sender's smoothed RTT at the end, µs.
    pub srtt_us: Option<f64>,
    /// A hash of the whole outcome (times, every counter of both stacks, link statistics):
    /// equal for equal seeds.
    pub fingerprint: String,
}

/// Drops frames that carry TCP payload with probability `p` (one draw per data frame).
pub struct DataLoss<D> {
    inner: D,
    p: f64,
    rng: Rng,
    pass: VecDeque<Pkt>,
    pub data_segs: u64,
    pub lost_segs: u64,
    pub lost_bytes: u64,
}

impl<D: Device> DataLoss<D> {
    pub fn new(inner: D, p: f64, seed: u64) -> Self {
        DataLoss {
            inner,
            p,
            rng: Rng::new(seed),
            pass: VecDeque::with_capacity(1024),
            data_segs: 0,
            lost_segs: 0,
            lost_bytes: 0,
        }
    }

    pub fn inner(&self) -> &D {
        &self.inner
    }
}

/// Bytes of TCP payload in an Ethernet/IPv4 frame (0 for anything else).
pub fn tcp_payload_len(pkt: &Pkt) -> usize {
    let mut h = [0u8; 128];
    let n = pkt.copy_out(0, &mut h);
    if n < 34 || h[12..14] != [0x08, 0x00] || h[23] != 6 {
        return 0;
    }
    let ihl = usize::from(h[14] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([h[16], h[17]]));
    let Some(&off) = h.get(14 + ihl + 12).filter(|_| 14 + ihl + 12 < n) else {
        return 0;
    };
    let doff = usize::from(off >> 4) * 4;
    total.saturating_sub(ihl + doff)
}

impl<D: Device> Device for DataLoss<D> {
    fn caps(&self) -> &DeviceCaps {
        self.inner.caps()
    }

    fn rx_burst(&mut self, now: Instant, out: &mut Vec<Pkt>, max: usize) -> usize {
        self.inner.rx_burst(now, out, max)
    }

    fn transmit(&mut self, now: Instant, frames: &mut TxFrames<'_>) {
        while let Some(pkt) = frames.take() {
            let payload = tcp_payload_len(&pkt);
            if payload > 0 {
                self.data_segs += 1;
                if self.rng.unit() < self.p {
                    self.lost_segs += 1;
                    self.lost_bytes += payload as u64;
                    continue; // dropped: the Pkt is freed here
                }
            }
            self.pass.push_back(pkt);
        }
        self.inner.tx_deque(now, &mut self.pass);
        // The simulated link takes every frame (it tail-drops and counts by itself); anything
        // it left would be lost like a NIC's drop.
        self.pass.clear();
    }

    fn next_arrival(&self) -> Option<Instant> {
        self.inner.next_arrival()
    }
}

/// `len` pseudo-random bytes drawn from `seed` (the engine's own generator).
fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0; len];
    Rng::new(seed).fill(&mut v);
    v
}

type Sender = Stack<DataLoss<SimPort>>;
type Receiver = Stack<SimPort>;

/// The two stacks, the clock and the transfer's progress.
struct Run {
    a: Sender,
    b: Receiver,
    now: Instant,
    data: Vec<u8>,
    buf: Vec<u8>,
    tx: Option<ConnId>,
    rx: Option<ConnId>,
    sent: usize,
    got: usize,
    shut: bool,
    eof: bool,
    started: Option<Instant>,
    done: Option<Instant>,
    bad: Option<String>,
    same_instant: u32,
}

fn stacks(a: &VtimeArgs) -> Result<(Sender, Receiver), String> {
    let sizes = PoolSizes {
        data: 8 * 1024 - 1,
        hdr: 4 * 1024 - 1,
        indirect: 8 * 1024 - 1,
    };
    let err = |e: engine::buf::PoolError| format!("cannot create mbuf pools: {e}");
    let (pa, pb) = (
        Pools::create("vta", &sizes).map_err(err)?,
        Pools::create("vtb", &sizes).map_err(err)?,
    );
    let link_pool = Mempool::create("vtl", 2 * sizes.data + 1, 256, 2176).map_err(err)?;
    let cfg = SimConfig {
        latency: Duration::from_micros(a.rtt_us / 2),
        bandwidth_bps: a.rate_mbps * 1_000_000,
        queue_limit: a.queue,
        mtu: 1500,
    };
    let (da, db) = SimLink::pair(
        link_pool,
        cfg,
        MacAddr([2, 0, 0, 0, 0, 1]),
        MacAddr([2, 0, 0, 0, 0, 2]),
    );
    let seed = a.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let stack_cfg = |ip, s| {
        let mut c = StackConfig::new(ip, 24);
        c.seed = Some(s);
        c.neighbor.ttl = Duration::from_secs(1 << 20);
        c
    };
    let lossy = DataLoss::new(da, a.loss / 100.0, seed ^ 3);
    Ok((
        Stack::new(lossy, pa, stack_cfg(IP_A, seed ^ 1)),
        Stack::new(db, pb, stack_cfg(IP_B, seed ^ 2)),
    ))
}

impl Run {
    fn poll(&mut self) {
        self.a.poll(self.now);
        self.b.poll(self.now);
        while let Some(ev) = self.a.poll_event() {
            if let Event::Connected(c) = ev
                && Some(c) == self.tx
                && self.started.is_none()
            {
                self.started = Some(self.now);
            }
        }
        while let Some(ev) = self.b.poll_event() {
            if let Event::Acceptable(l) = ev
                && let Some(c) = self.b.accept(l)
            {
                self.rx = Some(c);
            }
        }
    }

    /// One round of the applications: A sends what its buffer takes, B reads and checks.
    /// Returns whether either acted.
    fn pump(&mut self) -> Result<bool, String> {
        let mut acted = false;
        if let (Some(tx), Some(_)) = (self.tx, self.started) {
            while self.sent < self.data.len() {
                let end = self.data.len().min(self.sent + 256 * 1024);
                match self.a.send(tx, &self.data[self.sent..end]) {
                    Ok(n) => {
                        self.sent += n;
                        acted |= n > 0;
                        if n == 0 {
                            break;
                        }
                    }
                    Err(TcpError::WouldBlock | TcpError::NoBufs) => break,
                    Err(e) => return Err(format!("send failed at byte {}: {e}", self.sent)),
                }
            }
            if self.sent == self.data.len() && !self.shut {
                self.a.shutdown(tx).map_err(|e| format!("shutdown: {e}"))?;
                self.shut = true;
                acted = true;
            }
        }
        if let Some(rx) = self.rx {
            while !self.eof {
                match self.b.recv(rx, &mut self.buf) {
                    Ok(0) => {
                        self.eof = true;
                        acted = true;
                    }
                    Ok(n) => {
                        self.check(n);
                        acted = true;
                    }
                    Err(TcpError::WouldBlock) => break,
                    Err(e) => return Err(format!("recv failed at byte {}: {e}", self.got)),
                }
            }
        }
        if self.got >= self.data.len() && self.done.is_none() {
            self.done = Some(self.now);
        }
        Ok(acted)
    }

    fn check(&mut self, n: usize) {
        let end = self.got + n;
        if self.bad.is_none() {
            let want = self.data.get(self.got..end);
            if want != Some(&self.buf[..n]) {
                let k = want.map_or(0, |w| {
                    w.iter()
                        .zip(&self.buf[..n])
                        .position(|(x, y)| x != y)
                        .unwrap_or(0)
                });
                self.bad = Some(format!("byte {} differs from what was sent", self.got + k));
            }
        }
        self.got = end;
    }

    /// Moves the clock to the next deadline; false if nothing is left to happen.
    fn step_clock(&mut self, limit: Instant) -> Result<(), String> {
        let next = [self.a.next_deadline(), self.b.next_deadline()]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(t) if t <= self.now => {
                self.same_instant += 1;
                if self.same_instant > MAX_SAME_INSTANT {
                    return Err(format!("virtual clock stuck at {}", self.now));
                }
            }
            Some(t) if t <= limit => {
                self.now = t;
                self.same_instant = 0;
            }
            Some(_) => return Err("not done within the virtual-time limit".into()),
            None => return Err("stalled: no timer and no frame in flight".into()),
        }
        Ok(())
    }

    /// Connects, transfers, and returns when B read the end of file (or on failure).
    fn go(&mut self, limit: Instant) -> Result<(), String> {
        self.b
            .listen(PORT, 16, None)
            .map_err(|e| format!("listen: {e}"))?;
        self.poll();
        self.tx = Some(
            self.a
                .connect(IP_B, PORT, None)
                .map_err(|e| format!("connect: {e}"))?,
        );
        loop {
            self.poll();
            if self.pump()? {
                self.same_instant += 1;
                if self.same_instant > MAX_SAME_INSTANT {
                    return Err(format!("the applications act forever at {}", self.now));
                }
            } else {
                if self.eof {
                    return Ok(());
                }
                self.poll();
                self.step_clock(limit)?;
            }
        }
    }
}

/// Runs one transfer as `a` says.
pub fn run(a: &VtimeArgs) -> Result<VtOutcome, String> {
    if !(0.0..100.0).contains(&a.loss) {
        return Err(format!("--loss {} is not a percentage below 100", a.loss));
    }
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    eal::init(&eal::EalConfig {
        memory_mb: 512,
        log_level: Some("error".into()),
        extra_args: vec![format!("--lcores=0@(0-{})", ncpu - 1)],
        ..eal::EalConfig::default()
    })
    .map_err(|e| e.to_string())?;
    let (sa, sb) = stacks(a)?;
    let mut r = Run {
        a: sa,
        b: sb,
        now: Instant::ZERO,
        data: payload(a.seed, a.bytes),
        buf: vec![0; 64 * 1024],
        tx: None,
        rx: None,
        sent: 0,
        got: 0,
        shut: false,
        eof: false,
        started: None,
        done: None,
        bad: None,
        same_instant: 0,
    };
    // Resolve the neighbours first (a ping), so the first segment does not wait for ARP.
    r.poll();
    r.a.ping(r.now, IP_B, 1, 1, 0);
    let warm = r.now + Duration::from_millis(10);
    while r.now < warm {
        r.poll();
        if r.step_clock(warm).is_err() {
            break;
        }
    }
    r.now = r.now.max(warm);
    let limit = r.now + Duration::from_secs(a.limit_s);
    let res = r.go(limit);
    Ok(outcome(a, &r, res.err()))
}

fn outcome(a: &VtimeArgs, r: &Run, err: Option<String>) -> VtOutcome {
    let tcp = TcpConfig::default();
    let info = r.tx.and_then(|c| r.a.info(c));
    let ca = r.a.counters();
    let dev = r.a.device();
    let elapsed = match (r.started, r.done) {
        (Some(s), Some(d)) => (d - s).as_secs_f64(),
        _ => 0.0,
    };
    let complete = r.got == a.bytes && r.eof;
    let mut h = DefaultHasher::new();
    (r.started, r.done, r.now, r.got).hash(&mut h);
    format!("{:?}{:?}", ca, r.b.counters()).hash(&mut h);
    format!("{:?}{:?}", dev.inner().stats(), r.b.device().stats()).hash(&mut h);
    (dev.data_segs, dev.lost_segs, dev.lost_bytes).hash(&mut h);
    VtOutcome {
        loss_pct: a.loss,
        seed: a.seed,
        bytes: a.bytes as u64,
        rate_mbps: a.rate_mbps,
        rtt_us: a.rtt_us,
        congestion: Congestion::new(tcp.congestion, 1448).name().to_string(),
        mss: info.as_ref().map_or(0, |i| u32::from(i.mss)),
        complete,
        intact: complete && r.bad.is_none(),
        error: err
            .or_else(|| r.bad.clone())
            .or_else(|| (!complete).then(|| format!("ended after {} of {} bytes", r.got, a.bytes))),
        bytes_received: r.got as u64,
        elapsed_s: elapsed,
        goodput_mbps: if elapsed > 0.0 {
            a.bytes as f64 * 8.0 / elapsed / 1e6
        } else {
            0.0
        },
        rtos: ca.tcp.timeouts,
        retrans_segs: ca.tcp.retrans_segs,
        fast_retrans: ca.tcp.fast_retrans,
        data_segs: dev.data_segs,
        lost_segs: dev.lost_segs,
        lost_bytes: dev.lost_bytes,
        srtt_us: info.and_then(|i| i.srtt).map(|d| d.as_secs_f64() * 1e6),
        fingerprint: format!("{:016x}", h.finish()),
    }
}

/// `bench vtime`: runs one transfer, prints a line, writes the JSON.
pub fn main(a: &VtimeArgs) -> ExitCode {
    let o = match run(a) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bench vtime: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "vtime: loss {} %, seed {}: {:.1} Mbit/s over {:.3} virtual s, {} RTOs, {} retransmitted \
         / {} lost segments, {}{}",
        o.loss_pct,
        o.seed,
        o.goodput_mbps,
        o.elapsed_s,
        o.rtos,
        o.retrans_segs,
        o.lost_segs,
        if o.intact { "intact" } else { "NOT intact" },
        o.error.as_ref().map_or(String::new(), |e| format!(": {e}"))
    );
    if let Some(p) = &a.json {
        let text = serde_json::to_string_pretty(&o).unwrap_or_default();
        if let Err(e) = std::fs::write(p, text + "\n") {
            eprintln!("bench vtime: cannot write {}: {e}", p.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
