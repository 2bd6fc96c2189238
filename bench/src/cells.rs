//! One cell of the matrix: a workload on a set-up at a core count, run as child processes
//! (loadgen, and serve where the server is a process of its own), or one raw-link bounce.
//!
//! "Cores" are the CPUs the client and server together may use, the same for both stacks:
//! 1 core = both on CPU 0; 2 cores = client on CPU 0, server on CPU 1. Every process is
//! started under `taskset`, and the engine's EAL options keep to the same CPUs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use crate::child::{self, Child, Waited};
use crate::cli::{Close, Link, Part, Setup};
use crate::machine::{CpuSnapshot, Interference};
use crate::netns::{Netns, Veth};

/// The programs the cells run.
#[derive(Debug, Clone)]
pub struct Bins {
    pub loadgen: PathBuf,
    pub serve: PathBuf,
    pub bench: PathBuf,
}

/// Seconds per cell.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Timing {
    pub duration: f64,
    pub warmup: f64,
    pub drain: f64,
}

/// What every cell needs: the programs, the log directory, the namespaces.
pub struct Env {
    pub bins: Bins,
    pub logs: PathBuf,
    pub timing: Timing,
    pub close: Close,
    pub tw_reuse_ms: u64,
    pub lo: Option<Netns>,
    pub veth: Option<Veth>,
    pub ncpu: usize,
}

/// Why a cell has no figures, or that it has them.
#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(tag = "status", content = "detail", rename_all = "lowercase")]
pub enum Status {
    Ok,
    Failed(String),
    Skipped(String),
    Interrupted,
}

/// The figures the tables use, taken from loadgen's JSON.
#[derive(Serialize, Clone, Debug, Default)]
pub struct Metrics {
    pub requests_per_sec: f64,
    pub connections_per_sec: f64,
    pub gbps: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub errors: u64,
    pub requests: u64,
    pub connections: u64,
    pub duration_s: f64,
}

impl Metrics {
    fn from_json(v: &Value) -> Option<Metrics> {
        let f = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        let u = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        let lat = v.get("latency_us")?;
        let l = |k: &str| lat.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        Some(Metrics {
            requests_per_sec: f("requests_per_sec"),
            connections_per_sec: f("connections_per_sec"),
            gbps: f("gbps"),
            p50_us: l("p50"),
            p90_us: l("p90"),
            p99_us: l("p99"),
            p999_us: l("p999"),
            errors: u("errors"),
            requests: u("requests"),
            connections: u("connections"),
            duration_s: f("duration_s"),
        })
    }

    /// The figure a workload is judged by (higher is better).
    pub fn headline(&self, w: Part) -> f64 {
        match w {
            Part::Churn => self.connections_per_sec,
            Part::Stream => self.gbps,
            _ => self.requests_per_sec,
        }
    }
}

/// A workload cell's outcome.
#[derive(Serialize, Clone, Debug)]
pub struct Cell {
    pub id: String,
    pub workload: Part,
    pub setup: Setup,
    pub cores: u8,
    #[serde(flatten)]
    pub status: Status,
    pub metrics: Option<Metrics>,
    pub client_cmd: Vec<String>,
    pub server_cmd: Option<Vec<String>>,
    /// loadgen's whole JSON report.
    pub loadgen: Option<Value>,
    /// The counters a separate `serve` process printed at exit.
    pub server_counters: Option<BTreeMap<String, u64>>,
    pub wall_s: f64,
    /// Other work on the machine while the cell ran.
    pub interference: Interference,
    /// With --repeat: every run of the cell (this one is the median).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<Cell>,
}

/// A raw-link cell's outcome.
#[derive(Serialize, Clone, Debug)]
pub struct RawCell {
    pub id: String,
    pub link: Link,
    pub cores: u8,
    pub window: usize,
    #[serde(flatten)]
    pub status: Status,
    pub frames_per_sec: Option<f64>,
    pub mean_rtt_us: Option<f64>,
    pub cmd: Vec<String>,
    pub server_cmd: Option<Vec<String>>,
    /// The bouncer's whole JSON report.
    pub report: Option<Value>,
    pub wall_s: f64,
    pub interference: Interference,
    /// With --repeat: every run (this one is the median).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<RawCell>,
}

impl Part {
    pub fn key(self) -> &'static str {
        match self {
            Part::Rpc64 => "rpc64",
            Part::Rpc1k => "rpc1k",
            Part::Churn => "churn",
            Part::Stream => "stream",
            Part::Raw => "raw",
            Part::Callgrind => "callgrind",
            Part::Loss => "loss",
            Part::Scale => "scale",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Part::Rpc64 => "64 B echo RPC (16 connections, 1 request in flight each)",
            Part::Rpc1k => "1 KiB echo RPC (16 connections, 1 request in flight each)",
            Part::Churn => "Connection churn (16 slots: connect, 64 B request, response, close)",
            Part::Stream => "Bulk stream (1 connection, 64 KiB writes into a sink server)",
            Part::Raw => "Raw link ceiling",
            Part::Callgrind => "Instructions per request (callgrind)",
            Part::Loss => "Bulk goodput under random loss",
            Part::Scale => "Connections at scale",
        }
    }

    /// The workload's loadgen arguments (mode first).
    fn loadgen_args(self, close: Close) -> Vec<String> {
        let v: &[&str] = match self {
            Part::Rpc64 => &[
                "rpc",
                "--conns",
                "16",
                "--pipeline",
                "1",
                "--req-size",
                "64",
            ],
            Part::Rpc1k => &[
                "rpc",
                "--conns",
                "16",
                "--pipeline",
                "1",
                "--req-size",
                "1024",
            ],
            Part::Churn => &["churn", "--conns", "16", "--req-size", "64", "--close"],
            Part::Stream => &[
                "stream",
                "--conns",
                "1",
                "--direction",
                "tx",
                "--write-size",
                "65536",
            ],
            Part::Raw | Part::Callgrind | Part::Loss | Part::Scale => &[],
        };
        let mut a = child::strings(v);
        if self == Part::Churn {
            a.push(close.name().into());
        }
        a
    }

    /// The server mode and the engine server's port.
    fn server(self) -> (&'static str, u16) {
        match self {
            Part::Stream => ("sink", 9),
            _ => ("echo", 7),
        }
    }
}

impl Setup {
    pub fn key(self) -> &'static str {
        match self {
            Setup::Ring => "ring",
            Setup::Memif => "memif",
            Setup::Loopback => "loopback",
            Setup::Veth => "veth",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Setup::Ring => "engine ring",
            Setup::Memif => "engine memif",
            Setup::Loopback => "kernel loopback",
            Setup::Veth => "kernel veth",
        }
    }

    pub fn is_engine(self) -> bool {
        matches!(self, Setup::Ring | Setup::Memif)
    }
}

/// The log file name of run `run` (0-based) of cell `id`.
fn log_name(id: &str, run: u8) -> String {
    if run == 0 {
        id.to_string()
    } else {
        format!("{id}-run{}", run + 1)
    }
}

/// The median of `runs` by `key` (over the runs that have one), with every run attached when
/// there is more than one; the last run if none has a key.
pub fn median<T: Clone>(
    mut runs: Vec<T>,
    key: impl Fn(&T) -> Option<f64>,
    attach: impl Fn(&mut T, Vec<T>),
) -> Option<T> {
    let mut ok: Vec<(f64, usize)> = runs
        .iter()
        .enumerate()
        .filter_map(|(i, r)| key(r).map(|k| (k, i)))
        .collect();
    ok.sort_by(|a, b| a.0.total_cmp(&b.0));
    let pick = match ok.get(ok.len() / 2) {
        Some(&(_, i)) => i,
        None => runs.len().checked_sub(1)?,
    };
    let mut chosen = runs[pick].clone();
    if runs.len() > 1 {
        attach(&mut chosen, std::mem::take(&mut runs));
    }
    Some(chosen)
}

/// How to tell that a server is ready for its client.
type ReadyCheck = Box<dyn Fn(&Child) -> bool>;

static SEQ: AtomicU32 = AtomicU32::new(0);

fn next_seq() -> u32 {
    SEQ.fetch_add(1, Ordering::Relaxed)
}

fn taskset(cpus: &str) -> Vec<String> {
    child::strings(&["taskset", "-c", cpus])
}

/// True once the abstract unix socket `path` is listening (memif servers create it at probe).
fn socket_listening(path: &str) -> bool {
    let want = format!("@{path}");
    std::fs::read_to_string("/proc/net/unix")
        .map(|t| {
            t.lines()
                .any(|l| l.split_whitespace().last() == Some(&want))
        })
        .unwrap_or(false)
}

/// The `Name value` lines `serve` prints at exit.
fn parse_counters(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (k, v, rest) = (it.next()?, it.next()?, it.next());
            if rest.is_some() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return None;
            }
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

impl Env {
    /// The log name of run `run` of cell `id` and the path of its JSON report, removed if an
    /// earlier invocation left one (so a run that writes none is not read as a result).
    fn fresh_report_path(&self, id: &str, run: u8) -> (String, PathBuf) {
        let id = log_name(id, run);
        let json = self.logs.join(format!("{id}.json"));
        let _ = std::fs::remove_file(&json);
        (id, json)
    }

    fn client_timeout(&self) -> Duration {
        let t = &self.timing;
        Duration::from_secs_f64(t.warmup + t.duration + t.drain + 45.0)
    }

    fn common_args(&self, json: &Path) -> Vec<String> {
        loadgen_common_args(&self.timing, json)
    }

    /// Why a cell cannot run here, if it cannot.
    pub fn skip_reason(&self, setup: Setup, cores: u8) -> Option<String> {
        if cores == 2 && self.ncpu < 2 {
            return Some("this machine has one CPU".into());
        }
        if setup == Setup::Memif && cores == 1 {
            return Some(
                "two busy-polling processes on one CPU only take turns at scheduler time \
                 slices (milliseconds per round trip): not a meaningful configuration"
                    .into(),
            );
        }
        None
    }

    /// Runs one workload cell.
    pub fn run_cell(&self, wl: Part, setup: Setup, cores: u8, run: u8) -> Cell {
        let id = format!("{}-{}-{}c", wl.key(), setup.key(), cores);
        let start = Instant::now();
        let mut cell = Cell {
            id: id.clone(),
            workload: wl,
            setup,
            cores,
            status: Status::Ok,
            metrics: None,
            client_cmd: Vec::new(),
            server_cmd: None,
            loadgen: None,
            server_counters: None,
            wall_s: 0.0,
            interference: Interference::default(),
            runs: Vec::new(),
        };
        if let Some(why) = self.skip_reason(setup, cores) {
            cell.status = Status::Skipped(why);
            return cell;
        }
        let (id, json) = self.fresh_report_path(&id, run);
        let cpu = CpuSnapshot::take();
        let launched = self.launch(wl, setup, cores, &id, &json, &mut cell);
        cell.interference = cpu.since(&CpuSnapshot::take(), self.ncpu);
        cell.status = match launched {
            Ok(()) => match std::fs::read_to_string(&json)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            {
                Some(v) => {
                    let m = Metrics::from_json(&v);
                    cell.loadgen = Some(v);
                    match m {
                        Some(m) if m.headline(wl) > 0.0 => {
                            cell.metrics = Some(m);
                            Status::Ok
                        }
                        Some(m) => {
                            let why = format!(
                                "nothing completed in the measurement ({} errors)",
                                m.errors
                            );
                            cell.metrics = Some(m);
                            Status::Failed(why)
                        }
                        None => Status::Failed("loadgen's JSON has no latency_us".into()),
                    }
                }
                None => Status::Failed(format!("loadgen wrote no JSON to {}", json.display())),
            },
            Err(s) => s,
        };
        cell.wall_s = start.elapsed().as_secs_f64();
        cell
    }

    /// Starts the server (if it is a process of its own) and the client; waits for the client.
    fn launch(
        &self,
        wl: Part,
        setup: Setup,
        cores: u8,
        id: &str,
        json: &Path,
        cell: &mut Cell,
    ) -> Result<(), Status> {
        let fail = |e: String| Status::Failed(e);
        let (mode, engine_port) = wl.server();
        let server_cpu = if cores == 1 { "0" } else { "1" };
        let loadgen = self.bins.loadgen.display().to_string();
        let serve = self.bins.serve.display().to_string();
        let mut client = Vec::new();
        let mut server: Option<Vec<String>> = None;
        let mut ready: Option<ReadyCheck> = None;
        let mut wl_args = wl.loadgen_args(self.close);
        if wl == Part::Churn && self.close == Close::Fin && setup.is_engine() {
            wl_args.extend(["--tw-reuse-ms".into(), self.tw_reuse_ms.to_string()]);
        }
        match setup {
            Setup::Ring => {
                client.extend(taskset(if cores == 1 { "0" } else { "0,1" }));
                client.push(loadgen);
                client.extend(wl_args);
                client.extend(child::strings(&[
                    "--layout",
                    if cores == 1 { "shared" } else { "split" },
                    "--server",
                    mode,
                ]));
            }
            Setup::Memif => {
                let sock = format!("/run/bench-{}-{}.sock", std::process::id(), next_seq());
                let mut s = taskset(server_cpu);
                s.extend([
                    serve,
                    mode.into(),
                    "--port".into(),
                    format!("memif:{sock},server"),
                    "--ip".into(),
                    "10.0.0.2/24".into(),
                    "--eal-args".into(),
                    format!("-l {server_cpu}"),
                ]);
                server = Some(s);
                let sock2 = sock.clone();
                ready = Some(Box::new(move |_| socket_listening(&sock2)));
                client.extend(taskset("0"));
                client.push(loadgen);
                client.extend(wl_args);
                client.extend([
                    "--port".into(),
                    format!("memif:{sock},client"),
                    "--ip".into(),
                    "10.0.0.1/24".into(),
                    "--target".into(),
                    format!("10.0.0.2:{engine_port}"),
                ]);
            }
            Setup::Loopback | Setup::Veth => {
                let port = 20000 + (next_seq() % 20000) as u16;
                let (cns, sns, target, bind) = match (setup, &self.lo, &self.veth) {
                    (Setup::Loopback, Some(lo), _) => (lo, lo, "127.0.0.1".to_string(), None),
                    (Setup::Veth, _, Some(v)) => (
                        &v.client,
                        &v.server,
                        v.server_ip.to_string(),
                        Some(format!("{}/24", v.server_ip)),
                    ),
                    _ => return Err(fail("its network namespace was not set up".into())),
                };
                let mut s = sns.prefix();
                s.extend(taskset(server_cpu));
                s.extend([
                    serve,
                    mode.into(),
                    "--stack".into(),
                    "kernel".into(),
                    "--listen".into(),
                    port.to_string(),
                ]);
                if let Some(b) = bind {
                    s.extend(["--ip".into(), b]);
                }
                server = Some(s);
                ready = Some(Box::new(|c: &Child| c.stdout().contains("serve: ready")));
                client.extend(cns.prefix());
                client.extend(taskset("0"));
                client.push(loadgen);
                client.extend(wl_args);
                client.extend([
                    "--stack".into(),
                    "kernel".into(),
                    "--target".into(),
                    format!("{target}:{port}"),
                ]);
            }
        }
        client.extend(self.common_args(json));
        cell.client_cmd = client.clone();
        cell.server_cmd = server.clone();
        let mut srv = match &server {
            Some(argv) => {
                let mut c =
                    child::spawn(argv, &self.logs, &format!("{id}-server")).map_err(fail)?;
                if let Some(r) = &ready {
                    c.wait_until(Duration::from_secs(20), r)
                        .map_err(|e| self.stopped_or(e))?;
                }
                Some(c)
            }
            None => None,
        };
        let res = self.run_client(&client, id);
        if let Some(s) = srv.as_mut() {
            s.stop(Duration::from_secs(5));
            let counters = parse_counters(&s.stdout());
            if !counters.is_empty() {
                cell.server_counters = Some(counters);
            }
        }
        res
    }

    fn stopped_or(&self, e: String) -> Status {
        if child::interrupted() {
            Status::Interrupted
        } else {
            Status::Failed(e)
        }
    }

    /// Runs a client process to its end (or its timeout).
    fn run_client(&self, argv: &[String], id: &str) -> Result<(), Status> {
        let mut c = child::spawn(argv, &self.logs, id).map_err(Status::Failed)?;
        let timeout = self.client_timeout();
        // The program is the first argument with a path (ip and taskset have none).
        let prog = argv
            .iter()
            .find(|a| a.contains('/') && !a.starts_with('-'))
            .and_then(|a| Path::new(a).file_name())
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| argv[0].clone());
        wait_child(&mut c, timeout, &prog)
    }

    /// Runs one raw-link bounce.
    pub fn run_raw(&self, link: Link, cores: u8, window: usize, run: u8) -> RawCell {
        let lk = match link {
            Link::Ring => "ring",
            Link::Memif => "memif",
        };
        let id = format!("raw-{lk}-{cores}c-w{window}");
        let start = Instant::now();
        let mut cell = RawCell {
            id: id.clone(),
            link,
            cores,
            window,
            status: Status::Ok,
            frames_per_sec: None,
            mean_rtt_us: None,
            cmd: Vec::new(),
            server_cmd: None,
            report: None,
            wall_s: 0.0,
            interference: Interference::default(),
            runs: Vec::new(),
        };
        let setup = match link {
            Link::Ring => Setup::Ring,
            Link::Memif => Setup::Memif,
        };
        if let Some(why) = self.skip_reason(setup, cores) {
            cell.status = Status::Skipped(why);
            return cell;
        }
        let (id, json) = self.fresh_report_path(&id, run);
        let bench = self.bins.bench.display().to_string();
        let t = &self.timing;
        let timing = [
            "--window".to_string(),
            window.to_string(),
            "--duration".into(),
            t.duration.to_string(),
            "--warmup".into(),
            t.warmup.to_string(),
        ];
        let mut srv: Option<Child> = None;
        let mut cmd;
        match link {
            Link::Ring => {
                cmd = taskset(if cores == 1 { "0" } else { "0,1" });
                cmd.extend([
                    bench,
                    "bounce".into(),
                    "ring".into(),
                    "--cores".into(),
                    cores.to_string(),
                ]);
            }
            Link::Memif => {
                let sock = format!("/run/bench-{}-{}.sock", std::process::id(), next_seq());
                let mut s = taskset("1");
                s.extend([
                    bench.clone(),
                    "bounce".into(),
                    "memif".into(),
                    "--role".into(),
                    "server".into(),
                    "--socket".into(),
                    sock.clone(),
                ]);
                s.extend(timing.iter().cloned());
                cell.server_cmd = Some(s.clone());
                match child::spawn(&s, &self.logs, &format!("{id}-server")) {
                    Ok(mut c) => {
                        let sk = sock.clone();
                        if let Err(e) =
                            c.wait_until(Duration::from_secs(20), move |_| socket_listening(&sk))
                        {
                            cell.status = self.stopped_or(e);
                            return cell;
                        }
                        srv = Some(c);
                    }
                    Err(e) => {
                        cell.status = Status::Failed(e);
                        return cell;
                    }
                }
                cmd = taskset("0");
                cmd.extend([
                    bench,
                    "bounce".into(),
                    "memif".into(),
                    "--role".into(),
                    "client".into(),
                    "--socket".into(),
                    sock,
                    "--cores".into(),
                    cores.to_string(),
                ]);
            }
        }
        cmd.extend(timing.iter().cloned());
        cmd.extend(["--json".into(), json.display().to_string()]);
        cell.cmd = cmd.clone();
        let cpu = CpuSnapshot::take();
        let res = self.run_client(&cmd, &id);
        if let Some(s) = srv.as_mut() {
            s.stop(Duration::from_secs(5));
        }
        cell.interference = cpu.since(&CpuSnapshot::take(), self.ncpu);
        cell.status = match res {
            Ok(()) => match std::fs::read_to_string(&json)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            {
                Some(v) => {
                    let f = |k: &str| v.get(k).and_then(Value::as_f64);
                    cell.frames_per_sec = f("frames_per_sec");
                    cell.mean_rtt_us = f("mean_rtt_us");
                    cell.report = Some(v);
                    if cell.frames_per_sec.unwrap_or(0.0) > 0.0 {
                        Status::Ok
                    } else {
                        Status::Failed("no frame came back".into())
                    }
                }
                None => Status::Failed(format!("the bouncer wrote no JSON to {}", json.display())),
            },
            Err(s) => s,
        };
        cell.wall_s = start.elapsed().as_secs_f64();
        cell
    }
}

/// The arguments every loadgen run of the bench shares: the timing, one core, quiet, the JSON
/// report at `json`.
pub fn loadgen_common_args(t: &Timing, json: &Path) -> Vec<String> {
    loadgen_args_on(t, 1, json)
}

/// [`loadgen_common_args`] on `cores` client cores.
pub fn loadgen_args_on(t: &Timing, cores: u8, json: &Path) -> Vec<String> {
    vec![
        "--duration".into(),
        t.duration.to_string(),
        "--warmup".into(),
        t.warmup.to_string(),
        "--drain".into(),
        t.drain.to_string(),
        "--cores".into(),
        cores.to_string(),
        "-q".into(),
        "--json".into(),
        json.display().to_string(),
    ]
}

/// Waits for `c`; a non-zero exit, a timeout or Ctrl-C is the cell's status.
pub fn wait_child(c: &mut Child, timeout: Duration, prog: &str) -> Result<(), Status> {
    match c.wait(timeout) {
        Waited::Exited(st) if st.success() => Ok(()),
        Waited::Exited(st) => Err(Status::Failed(format!(
            "{prog} exited with {st}: {}",
            c.stderr_tail(3)
        ))),
        Waited::TimedOut => {
            c.stop(Duration::from_secs(3));
            Err(Status::Failed(format!(
                "{prog} timed out after {:.0} s: {}",
                timeout.as_secs_f64(),
                c.stderr_tail(2)
            )))
        }
        Waited::Interrupted => {
            c.stop(Duration::from_secs(3));
            Err(Status::Interrupted)
        }
    }
}
