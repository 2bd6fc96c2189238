//! The loss cells: one bulk connection at one loss rate on the real link (the engine or Linux
//! sending, [`Env::run_link`]), and one virtual-time transfer run twice
//! ([`VtRunner::run_vtime`]).
//!
//! A real-link cell: the nftables drop rate is set and its counters zeroed; Linux's counters in
//! the sender's namespace are read (`nstat`); a kernel sink (`serve sink --stack kernel`)
//! starts in the receiver's namespace on the receiver CPU; loadgen sends one stream on the
//! sender CPU (the engine on `af_packet:` the sender's veth end, or Linux with
//! `--stack kernel --congestion`); then the sink is stopped (it prints the bytes it read),
//! and nftables' and nstat's counters are read again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use super::net::{LossPair, NftCounters, SINK_PORT, Sender, nstat};
use super::vtime::VtOutcome;
use crate::cells::{Bins, Status, Timing, loadgen_common_args, wait_child};
use crate::child;
use crate::machine::{CpuSnapshot, Interference};

/// What the loss cells need.
pub struct Env {
    pub bins: Bins,
    pub logs: PathBuf,
    pub timing: Timing,
    /// Linux's congestion control (`loadgen --congestion`).
    pub linux_cc: String,
    pub engine: LossPair,
    pub linux: LossPair,
    /// CPUs of the sender and of the receiver.
    pub sender_cpu: usize,
    pub receiver_cpu: usize,
    pub ncpu: usize,
}

/// A real-link cell's outcome.
#[derive(Serialize, Clone, Debug)]
pub struct LinkCell {
    pub id: String,
    pub sender: Sender,
    pub loss_pct: f64,
    #[serde(flatten)]
    pub status: Status,
    /// Goodput over the measured seconds (loadgen's `gbps` × 1000).
    pub goodput_mbps: Option<f64>,
    /// Bytes the sink read over the whole connection.
    pub delivered_bytes: Option<u64>,
    /// The sender's `TcpExtTCPTimeouts` and `TcpRetransSegs` over the whole connection.
    pub rtos: Option<u64>,
    pub retrans_segs: Option<u64>,
    /// The receiver's nftables counters.
    pub nft: Option<NftCounters>,
    pub client_cmd: Vec<String>,
    pub server_cmd: Vec<String>,
    /// loadgen's whole JSON report.
    pub loadgen: Option<Value>,
    /// Linux senders: the nstat counters that changed during the cell.
    pub nstat_delta: Option<BTreeMap<String, u64>>,
    pub wall_s: f64,
    pub interference: Interference,
}

impl LinkCell {
    /// RTOs per MiB delivered.
    pub fn rtos_per_mib(&self) -> Option<f64> {
        let (r, d) = (self.rtos?, self.delivered_bytes?);
        (d > 0).then(|| r as f64 / (d as f64 / (1u64 << 20) as f64))
    }

    /// Retransmitted ÷ lost segments (None when nothing was lost).
    pub fn retrans_per_loss(&self) -> Option<f64> {
        let lost = self.nft.as_ref()?.dropped_segs;
        (lost > 0).then(|| self.retrans_segs.unwrap_or(0) as f64 / lost as f64)
    }

    /// The share of the data segments the receiver's nftables dropped, in percent.
    pub fn measured_loss_pct(&self) -> Option<f64> {
        let n = self.nft.as_ref()?;
        (n.seen_segs > 0).then(|| 100.0 * n.dropped_segs as f64 / n.seen_segs as f64)
    }
}

/// A virtual-time cell: one (loss rate, seed), run twice in two processes.
#[derive(Serialize, Clone, Debug)]
pub struct VtCell {
    pub id: String,
    pub loss_pct: f64,
    pub seed: u64,
    #[serde(flatten)]
    pub status: Status,
    pub outcome: Option<VtOutcome>,
    /// Both runs gave the same outcome (fingerprint of every counter and instant).
    pub same_outcome: Option<bool>,
    pub cmd: Vec<String>,
    pub wall_s: f64,
}

fn f(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(Value::as_f64)
}

/// The `Name value` lines `serve` prints at exit.
fn server_counter(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == name).then(|| v.trim().parse().ok()).flatten()
    })
}

impl Env {
    fn pair(&self, s: Sender) -> &LossPair {
        match s {
            Sender::Engine => &self.engine,
            Sender::Linux => &self.linux,
        }
    }

    fn taskset(&self, cpu: usize) -> Vec<String> {
        child::strings(&["taskset", "-c", &cpu.to_string()])
    }

    /// The sink's argv in the receiver's namespace.
    fn sink_cmd(&self, p: &LossPair) -> Vec<String> {
        let mut v = p.receiver.prefix();
        v.extend(self.taskset(self.receiver_cpu));
        v.extend([
            self.bins.serve.display().to_string(),
            "sink".into(),
            "--stack".into(),
            "kernel".into(),
            "--listen".into(),
            SINK_PORT.to_string(),
            "--ip".into(),
            format!("{}/24", p.receiver_ip),
        ]);
        v
    }

    /// loadgen's argv in the sender's namespace.
    fn client_cmd(&self, s: Sender, p: &LossPair, json: &Path) -> Vec<String> {
        let mut v = p.sender.prefix();
        v.extend(self.taskset(self.sender_cpu));
        v.push(self.bins.loadgen.display().to_string());
        v.extend(child::strings(&[
            "stream",
            "--conns",
            "1",
            "--direction",
            "tx",
            "--write-size",
            "65536",
        ]));
        match s {
            Sender::Engine => v.extend([
                "--port".into(),
                format!("af_packet:{}", p.sender_if),
                "--ip".into(),
                format!("{}/24", p.sender_ip),
                "--eal-args".into(),
                format!("-l {}", self.sender_cpu),
            ]),
            Sender::Linux => v.extend([
                "--stack".into(),
                "kernel".into(),
                "--congestion".into(),
                self.linux_cc.clone(),
            ]),
        }
        v.extend(["--target".into(), format!("{}:{SINK_PORT}", p.receiver_ip)]);
        v.extend(loadgen_common_args(&self.timing, json));
        v
    }

    /// Runs one real-link cell.
    pub fn run_link(&self, s: Sender, loss_pct: f64) -> LinkCell {
        let id = format!("loss-{}-{}", s.key(), super::pct_key(loss_pct));
        let p = self.pair(s);
        let json = self.logs.join(format!("{id}.json"));
        let _ = std::fs::remove_file(&json);
        let mut cell = LinkCell {
            id: id.clone(),
            sender: s,
            loss_pct,
            status: Status::Ok,
            goodput_mbps: None,
            delivered_bytes: None,
            rtos: None,
            retrans_segs: None,
            nft: None,
            client_cmd: self.client_cmd(s, p, &json),
            server_cmd: self.sink_cmd(p),
            loadgen: None,
            nstat_delta: None,
            wall_s: 0.0,
            interference: Interference::default(),
        };
        let start = Instant::now();
        let cpu = CpuSnapshot::take();
        if let Err(st) = self.link_inner(p, &id, &json, &mut cell) {
            cell.status = st;
        }
        cell.interference = cpu.since(&CpuSnapshot::take(), self.ncpu);
        cell.wall_s = start.elapsed().as_secs_f64();
        cell
    }

    fn link_inner(
        &self,
        p: &LossPair,
        id: &str,
        json: &Path,
        cell: &mut LinkCell,
    ) -> Result<(), Status> {
        let fail = Status::Failed;
        p.set_loss((cell.loss_pct * 10.0).round() as u32)
            .map_err(fail)?;
        let linux = cell.sender == Sender::Linux;
        let before = if linux {
            nstat(&p.sender).map_err(fail)?
        } else {
            BTreeMap::new()
        };
        let mut sink =
            child::spawn(&cell.server_cmd, &self.logs, &format!("{id}-sink")).map_err(fail)?;
        sink.wait_until(Duration::from_secs(20), |c| {
            c.stdout().contains("serve: ready")
        })
        .map_err(stopped_or)?;
        let res = self.run_client(&cell.client_cmd, id);
        sink.stop(Duration::from_secs(5));
        cell.delivered_bytes = server_counter(&sink.stdout(), "ServerBytesIn");
        cell.nft = Some(p.counters().map_err(fail)?);
        let after = if linux {
            nstat(&p.sender).map_err(fail)?
        } else {
            BTreeMap::new()
        };
        res?;
        let v: Value = std::fs::read_to_string(json)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .ok_or_else(|| fail(format!("loadgen wrote no JSON to {}", json.display())))?;
        cell.goodput_mbps = f(&v, "gbps").map(|g| g * 1000.0);
        match cell.sender {
            Sender::Engine => {
                let c = v.get("engine_counters");
                let get = |k| c.and_then(|c| c.get(k)).and_then(Value::as_u64);
                cell.rtos = get("TcpExtTCPTimeouts");
                cell.retrans_segs = get("TcpRetransSegs");
            }
            Sender::Linux => {
                let delta: BTreeMap<String, u64> = after
                    .iter()
                    .map(|(k, a)| (k.clone(), a.saturating_sub(*before.get(k).unwrap_or(&0))))
                    .filter(|(_, d)| *d > 0)
                    .collect();
                cell.rtos = Some(*delta.get("TcpExtTCPTimeouts").unwrap_or(&0));
                cell.retrans_segs = Some(*delta.get("TcpRetransSegs").unwrap_or(&0));
                cell.nstat_delta = Some(delta);
            }
        }
        let errors = v.get("errors").and_then(Value::as_u64).unwrap_or(0);
        let kinds = v.get("errors_by_kind").map(Value::to_string);
        cell.loadgen = Some(v);
        // No goodput in the measured seconds is a figure (a sender stuck in RTO backoff), not
        // a failure; a connection that failed is.
        if errors > 0 {
            return Err(fail(format!(
                "loadgen counted {errors} errors: {}",
                kinds.unwrap_or_default()
            )));
        }
        Ok(())
    }

    /// Runs a client to its end (or its timeout).
    fn run_client(&self, argv: &[String], id: &str) -> Result<(), Status> {
        let mut c = child::spawn(argv, &self.logs, id).map_err(Status::Failed)?;
        let t = &self.timing;
        let timeout = Duration::from_secs_f64(t.warmup + t.duration + t.drain + 45.0);
        wait_child(&mut c, timeout, "loadgen")
    }
}

/// Runs the virtual-time cells: `bench vtime` as a child process on `cpu`.
pub struct VtRunner {
    pub bench: PathBuf,
    pub logs: PathBuf,
    pub cpu: usize,
    /// The simulated link's round trip, µs.
    pub rtt_us: u64,
}

impl VtRunner {
    /// Runs the virtual-time cell (loss, seed) twice, in two processes.
    pub fn run_vtime(&self, loss_pct: f64, seed: u64, bytes: usize) -> VtCell {
        let id = format!("vtime-{}-s{seed}", super::pct_key(loss_pct));
        let start = Instant::now();
        let mut cmd = child::strings(&["taskset", "-c", &self.cpu.to_string()]);
        cmd.extend([
            self.bench.display().to_string(),
            "vtime".into(),
            "--loss".into(),
            loss_pct.to_string(),
            "--seed".into(),
            seed.to_string(),
            "--bytes".into(),
            bytes.to_string(),
            "--rtt-us".into(),
            self.rtt_us.to_string(),
        ]);
        let mut cell = VtCell {
            id: id.clone(),
            loss_pct,
            seed,
            status: Status::Ok,
            outcome: None,
            same_outcome: None,
            cmd: cmd.clone(),
            wall_s: 0.0,
        };
        let mut outs = Vec::new();
        for k in 1..=2 {
            match self.vtime_once(&cmd, &format!("{id}-run{k}")) {
                Ok(o) => outs.push(o),
                Err(st) => {
                    cell.status = st;
                    break;
                }
            }
        }
        if let [a, b] = &outs[..] {
            cell.same_outcome = Some(a == b);
            if let Some(e) = &a.error {
                cell.status = Status::Failed(e.clone());
            }
        }
        cell.outcome = outs.into_iter().next();
        cell.wall_s = start.elapsed().as_secs_f64();
        cell
    }

    fn vtime_once(&self, cmd: &[String], name: &str) -> Result<VtOutcome, Status> {
        let json = self.logs.join(format!("{name}.json"));
        let _ = std::fs::remove_file(&json);
        let mut argv = cmd.to_vec();
        argv.extend(["--json".into(), json.display().to_string()]);
        let mut c = child::spawn(&argv, &self.logs, name).map_err(Status::Failed)?;
        wait_child(&mut c, Duration::from_secs(300), "bench vtime")?;
        std::fs::read_to_string(&json)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .ok_or_else(|| Status::Failed(format!("no JSON in {}", json.display())))
    }
}

fn stopped_or(e: String) -> Status {
    if child::interrupted() {
        Status::Interrupted
    } else {
        Status::Failed(e)
    }
}
