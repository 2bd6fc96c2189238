//! results.json (every raw figure) and RESULTS.md (the tables of ratios, the targets, the
//! machine and the definitions).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::callgrind::Callgrind;
use crate::cells::{Cell, Metrics, RawCell, Status, Timing};
use crate::cli::{Close, Link, Part, Setup};
use crate::loss::LossResults;
use crate::machine::Machine;
use crate::scale::ScaleResults;

/// The benchmark's configuration, as run.
#[derive(Serialize, Clone, Debug)]
pub struct Config {
    pub quick: bool,
    pub timing: Timing,
    /// Runs per cell (the median is reported).
    pub repeat: u8,
    pub workloads: Vec<Part>,
    pub setups: Vec<Setup>,
    pub cores: Vec<u8>,
    pub churn_close: Close,
    pub tw_reuse_ms: u64,
    pub raw_windows: Vec<usize>,
    pub raw_frame_len: usize,
    /// Sysctls set in the kernel set-ups' namespaces, as read back.
    pub kernel_sysctls: BTreeMap<String, String>,
    pub veth_mtu: u16,
    pub veth_offloads: Vec<(String, String)>,
    pub callgrind_seconds: f64,
}

/// One target of issue 4.
#[derive(Serialize, Clone, Debug)]
pub struct Target {
    pub name: String,
    pub cores: u8,
    pub required: String,
    pub measured: Option<f64>,
    pub met: Option<bool>,
}

/// Everything a run produced.
#[derive(Serialize, Clone, Debug)]
pub struct Results {
    pub command: String,
    pub complete: bool,
    pub machine: Machine,
    pub cores_definition: String,
    pub config: Config,
    pub targets: Vec<Target>,
    pub cells: Vec<Cell>,
    pub raw: Vec<RawCell>,
    pub callgrind: Option<Callgrind>,
    /// The loss part (`--only loss`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<LossResults>,
    /// The scale part (`--only scale`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<ScaleResults>,
}

pub const CORES_DEFINITION: &str = "\"Cores\" are the CPUs the client and the server together \
may use, the same for both stacks. 1 core: client and server share CPU 0 (engine ring: one \
thread runs the client stack and the server stack in turn, `loadgen --layout shared` under \
`taskset -c 0`; kernel: both processes under `taskset -c 0`, the scheduler switches between \
them). 2 cores: client on CPU 0, server on CPU 1 (engine ring: `--layout split`, one thread \
per stack; engine memif: two processes under `taskset -c 0` and `taskset -c 1` with EAL `-l` \
on the same CPU; kernel: each process under `taskset` on its CPU). The client is always one \
loadgen stack (`--cores 1`) and the server one stack or one epoll thread.";

/// Cells during which other processes used at least this share of the machine's CPU are
/// marked as disturbed.
pub(crate) const DISTURBED_PCT: f64 = 20.0;

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

/// 1234567.0 → "1,234,567".
pub fn group(v: f64) -> String {
    let s = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn lat(us: f64) -> String {
    if us < 10.0 {
        format!("{us:.2}")
    } else if us < 1000.0 {
        format!("{us:.1}")
    } else {
        group(us)
    }
}

fn gbps(g: f64) -> String {
    if g < 1.0 {
        format!("{g:.3}")
    } else {
        format!("{g:.2}")
    }
}

fn ratio(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}×")
    } else if r >= 1.0 {
        format!("{r:.1}×")
    } else {
        format!("{r:.2}×")
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Rate,
    Latency,
    Gbps,
}

struct Figure {
    name: &'static str,
    kind: Kind,
    get: fn(&Metrics) -> f64,
}

fn figures(w: Part) -> Vec<Figure> {
    match w {
        Part::Churn => vec![
            Figure {
                name: "conn/s",
                kind: Kind::Rate,
                get: |m| m.connections_per_sec,
            },
            Figure {
                name: "p50 µs (connection life)",
                kind: Kind::Latency,
                get: |m| m.p50_us,
            },
            Figure {
                name: "p99 µs (connection life)",
                kind: Kind::Latency,
                get: |m| m.p99_us,
            },
        ],
        Part::Stream => vec![Figure {
            name: "Gbit/s",
            kind: Kind::Gbps,
            get: |m| m.gbps,
        }],
        _ => vec![
            Figure {
                name: "req/s",
                kind: Kind::Rate,
                get: |m| m.requests_per_sec,
            },
            Figure {
                name: "p50 µs",
                kind: Kind::Latency,
                get: |m| m.p50_us,
            },
            Figure {
                name: "p99 µs",
                kind: Kind::Latency,
                get: |m| m.p99_us,
            },
        ],
    }
}

fn show(kind: Kind, v: f64) -> String {
    match kind {
        Kind::Rate => group(v),
        Kind::Latency => lat(v),
        Kind::Gbps => gbps(v),
    }
}

/// Footnotes of one table, numbered in order, identical texts merged.
#[derive(Default)]
pub(crate) struct Notes(Vec<String>);

impl Notes {
    pub(crate) fn add(&mut self, text: String) -> usize {
        if let Some(i) = self.0.iter().position(|t| *t == text) {
            return i + 1;
        }
        self.0.push(text);
        self.0.len()
    }

    pub(crate) fn write(&self, s: &mut String) {
        for (i, t) in self.0.iter().enumerate() {
            let _ = writeln!(s, "<sup>{}</sup> {}  ", i + 1, t.replace('|', "\\|"));
        }
        if !self.0.is_empty() {
            s.push('\n');
        }
    }
}

pub(crate) fn short(e: &str) -> String {
    let e = e.trim();
    if e.chars().count() > 300 {
        format!("{}…", e.chars().take(300).collect::<String>())
    } else {
        e.to_string()
    }
}

impl Results {
    fn cell(&self, w: Part, s: Setup, c: u8) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|x| x.workload == w && x.setup == s && x.cores == c)
    }

    fn ok_metrics(&self, w: Part, s: Setup, c: u8) -> Option<&Metrics> {
        self.cell(w, s, c)
            .filter(|x| x.status == Status::Ok)
            .and_then(|x| x.metrics.as_ref())
    }

    /// The best raw frame rate of a link at a core count (over the windows).
    fn raw_ceiling(&self, link: Link, c: u8) -> Option<(f64, usize)> {
        self.raw
            .iter()
            .filter(|r| r.link == link && r.cores == c && r.status == Status::Ok)
            .filter_map(|r| r.frames_per_sec.map(|f| (f, r.window)))
            .max_by(|a, b| a.0.total_cmp(&b.0))
    }

    /// Evaluates the targets from the cells.
    pub fn evaluate_targets(&mut self) {
        let mut t = Vec::new();
        for &c in &self.config.cores {
            for eng in [Setup::Ring, Setup::Memif] {
                let e = self.ok_metrics(Part::Rpc64, eng, c);
                let k = self.ok_metrics(Part::Rpc64, Setup::Loopback, c);
                let label = eng.label();
                if self
                    .cell(Part::Rpc64, eng, c)
                    .is_some_and(|x| matches!(x.status, Status::Skipped(_)))
                {
                    continue;
                }
                if self.cell(Part::Rpc64, eng, c).is_some() {
                    let r = e
                        .zip(k)
                        .map(|(e, k)| e.requests_per_sec / k.requests_per_sec);
                    t.push(Target {
                        name: format!("64 B RPC req/s, {label} ÷ kernel loopback"),
                        cores: c,
                        required: "≥ 10×".into(),
                        measured: r,
                        met: r.map(|r| r >= 10.0),
                    });
                    let r = e
                        .zip(k)
                        .filter(|(e, _)| e.p99_us > 0.0)
                        .map(|(e, k)| k.p99_us / e.p99_us);
                    t.push(Target {
                        name: format!("64 B RPC p99, kernel loopback ÷ {label} (p99 ≤ 1/5)"),
                        cores: c,
                        required: "≥ 5×".into(),
                        measured: r,
                        met: r.map(|r| r >= 5.0),
                    });
                }
                if self.cell(Part::Churn, eng, c).is_some() {
                    let e = self.ok_metrics(Part::Churn, eng, c);
                    let k = self.ok_metrics(Part::Churn, Setup::Loopback, c);
                    let r = e
                        .zip(k)
                        .map(|(e, k)| e.connections_per_sec / k.connections_per_sec);
                    t.push(Target {
                        name: format!("churn conn/s, {label} ÷ kernel loopback"),
                        cores: c,
                        required: "≥ 10×".into(),
                        measured: r,
                        met: r.map(|r| r >= 10.0),
                    });
                }
            }
            for (link, setup) in [(Link::Ring, Setup::Ring), (Link::Memif, Setup::Memif)] {
                let has_raw = self.raw.iter().any(|r| {
                    r.link == link && r.cores == c && !matches!(r.status, Status::Skipped(_))
                });
                if !has_raw {
                    continue;
                }
                let tcp = self.ok_metrics(Part::Rpc64, setup, c);
                let r = tcp
                    .zip(self.raw_ceiling(link, c))
                    .map(|(m, (f, _))| m.requests_per_sec / f);
                t.push(Target {
                    name: format!(
                        "TCP 64 B echo frame rate ÷ raw {} ceiling (frames each way)",
                        match link {
                            Link::Ring => "net_ring",
                            Link::Memif => "memif",
                        }
                    ),
                    cores: c,
                    required: "≥ 0.5".into(),
                    measured: r,
                    met: r.map(|r| r >= 0.5),
                });
            }
        }
        self.targets = t;
    }

    /// RESULTS.md.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let m = &self.machine;
        let _ = writeln!(s, "# Engine vs Linux kernel: benchmark results\n");
        let _ = writeln!(
            s,
            "Produced by `{}` on {}{}. Every figure comes from one run of that command; its \
             raw figures, loadgen's full reports and every command line are in `results.json` \
             beside this file in the output directory (`bench/out` by default). The machine is \
             a small VM: throughput varied by 10–30 % between runs in our trials, tail \
             latencies more; read the ratios, not the last digit.\n",
            self.command,
            m.date_utc,
            if self.complete {
                ""
            } else {
                " (**interrupted: incomplete**)"
            }
        );
        if m.interference.other_cpu_pct >= 5.0 {
            let _ = writeln!(
                s,
                "**Warning:** other processes used {:.0} % of the machine's CPU time during \
                 this run. A busy-polling stack that loses its CPU stalls for a scheduler time \
                 slice, so the cells marked as disturbed (2-core cells above all) understate the \
                 engine and inflate its tail latencies. Run on an idle machine for figures to \
                 quote.\n",
                m.interference.other_cpu_pct
            );
        }
        let _ = writeln!(s, "## Machine\n");
        let _ = writeln!(s, "| | |\n|---|---|");
        let rows = [
            ("CPU", m.cpu_model.clone()),
            ("CPUs (nproc)", m.nproc.to_string()),
            ("memory", format!("{} GiB", m.memory_gib)),
            ("kernel", m.kernel.clone()),
            ("DPDK", m.dpdk.clone()),
            ("rustc", m.rustc.clone()),
            ("source", format!("git {}", m.git_commit)),
            ("date", m.date_utc.clone()),
            (
                "load average (1/5/15 min) at start / end",
                format!("{} / {}", m.loadavg_start, m.loadavg_end),
            ),
            (
                "other work during the run",
                format!(
                    "{:.0} % of the machine's CPU time used by other processes, {:.1} % stolen \
                     by the hypervisor (per cell: last column of *All cells*)",
                    m.interference.other_cpu_pct, m.interference.steal_pct
                ),
            ),
        ];
        for (k, v) in rows {
            let _ = writeln!(s, "| {k} | {v} |");
        }
        s.push('\n');
        if !self.config.workloads.is_empty() || !self.raw.is_empty() {
            self.definitions(&mut s);
        }
        self.targets_md(&mut s);
        for &w in &self.config.workloads {
            self.workload_md(&mut s, w);
        }
        self.raw_md(&mut s);
        self.callgrind_md(&mut s);
        if let Some(l) = &self.loss {
            l.markdown(&mut s);
        }
        if let Some(sc) = &self.scale {
            sc.markdown(&mut s);
        }
        if !self.cells.is_empty() || (self.loss.is_none() && self.scale.is_none()) {
            self.appendix_md(&mut s);
        }
        s
    }

    fn definitions(&self, s: &mut String) {
        let c = &self.config;
        let t = &c.timing;
        let _ = writeln!(s, "## Definitions\n");
        let _ = writeln!(s, "**Cores.** {CORES_DEFINITION}\n");
        let _ = writeln!(
            s,
            "**Set-ups.** *engine ring*: engine client and engine echo server in one process \
             over a net_ring pair (`loadgen MODE` with no `--port`). *engine memif*: `serve` \
             and `loadgen` in two processes over net_memif (copy mode, ordinary pages). \
             *kernel loopback*: `serve --stack kernel` and `loadgen --stack kernel` over \
             127.0.0.1, in a private network namespace. *kernel veth*: the same two programs in \
             two network namespaces joined by a veth pair at MTU {} (offloads left at the \
             kernel's defaults: {}). The engine busy-polls its port; the kernel programs use \
             nonblocking sockets with epoll (sleeping when idle, as wrk or a typical server \
             does) and TCP_NODELAY.\n",
            c.veth_mtu,
            if c.veth_offloads.is_empty() {
                "not read".to_string()
            } else {
                c.veth_offloads
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
        let _ = writeln!(
            s,
            "**Timing.** Each cell: {} s of warm-up, then {} s measured, then up to {} s of \
             drain; each cell is a fresh set of processes with a timeout. {} Latency is \
             loadgen's HDR histogram of request round trips (for churn: connect to last \
             response byte).\n",
            t.warmup,
            t.duration,
            t.drain,
            if c.repeat > 1 {
                format!(
                    "Every cell ran {} times (going round the set-ups of a row each time); the \
                     tables show the median run by the cell's main figure (req/s, conn/s, \
                     Gbit/s), with that run's latencies; results.json has every run.",
                    c.repeat
                )
            } else {
                "Every cell ran once.".to_string()
            }
        );
        let close = match c.churn_close {
            Close::Fin => format!(
                "**Churn** closes with FIN on both stacks (the client closes first and keeps \
                 TIME_WAIT). A TIME_WAIT 4-tuple is reused after {ms} ms on both stacks: the \
                 engine's `--tw-reuse-ms {ms}`, the kernel's `net.ipv4.tcp_tw_reuse=1` and \
                 `net.ipv4.tcp_tw_reuse_delay={ms}` set in the benchmark's namespaces only \
                 (both protected by TCP timestamps). The client has 28,232 ephemeral ports per \
                 target, so the rate is capped at 28,232 ÷ the time a port stays unusable: \
                 about 470 conn/s with Linux's 60 s TIME_WAIT and no reuse, about 28,000 conn/s \
                 with the default 1 s reuse delay (the engine hit that cap in trials, with \
                 `no_ports` errors). Either would measure the port space, not the stack. The \
                 sysctls read back: {}.\n",
                c.kernel_sysctls
                    .iter()
                    .map(|(k, v)| format!("`{k}={v}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                ms = c.tw_reuse_ms
            ),
            Close::Rst => "**Churn** closes with RST on both stacks (`--close rst`): no \
                           TIME_WAIT anywhere, so the port space never limits the rate.\n"
                .to_string(),
        };
        let _ = writeln!(s, "{close}");
        let _ = writeln!(
            s,
            "**Stream** writes 64 KiB at a time on one connection into a sink server (discard), \
             one way; Gbit/s of payload.\n"
        );
        let _ = writeln!(
            s,
            "**Ratios** are written so that higher is better for the engine: engine ÷ kernel \
             for rates (req/s, conn/s, Gbit/s), kernel ÷ engine for latencies. *ring vs \
             loopback* compares the two in-host links without a wire; *memif vs veth* compares \
             two processes (or namespaces) joined by a virtual link.\n"
        );
    }

    fn targets_md(&self, s: &mut String) {
        if self.targets.is_empty() {
            return;
        }
        let _ = writeln!(s, "## Targets (issue 4)\n");
        let _ = writeln!(
            s,
            "| target | cores | required | measured | |\n|---|---|---|---|---|"
        );
        for t in &self.targets {
            let measured = match t.measured {
                Some(r) if t.required.starts_with("≥ 0.") => format!("{r:.2}"),
                Some(r) => ratio(r),
                None => "no figure".into(),
            };
            let met = match t.met {
                Some(true) => "**met**",
                Some(false) => "**not met**",
                None => "not measured",
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                t.name, t.cores, t.required, measured, met
            );
        }
        s.push('\n');
    }

    fn value_cell(&self, w: Part, setup: Setup, c: u8, f: &Figure, notes: &mut Notes) -> String {
        let Some(cell) = self.cell(w, setup, c) else {
            return "–".into();
        };
        let label = format!(
            "{}, {} core{}",
            setup.label(),
            c,
            if c == 1 { "" } else { "s" }
        );
        match &cell.status {
            Status::Ok => {
                let m = cell.metrics.as_ref().expect("ok cells have metrics");
                let mut v = show(f.kind, (f.get)(m));
                if cell.interference.other_cpu_pct >= DISTURBED_PCT {
                    let n = notes.add(format!(
                        "other processes used ≥ {DISTURBED_PCT:.0} % of the machine's CPU while \
                         this cell ran (column *other CPU %* of *All cells*): disturbed"
                    ));
                    let _ = write!(v, " <sup>{n}</sup>");
                }
                if m.errors > 0 {
                    let n = notes.add(format!(
                        "{label}: {} errors ({})",
                        m.errors,
                        cell.loadgen
                            .as_ref()
                            .and_then(|v| v.get("errors_by_kind"))
                            .map(|v| v.to_string())
                            .unwrap_or_default()
                    ));
                    let _ = write!(v, " <sup>{n}</sup>");
                }
                v
            }
            Status::Failed(e) => {
                let n = notes.add(format!("{label}: failed: {}", short(e)));
                format!("failed <sup>{n}</sup>")
            }
            Status::Skipped(e) => {
                let n = notes.add(format!("{}: {}", setup.label(), short(e)));
                format!("n/a <sup>{n}</sup>")
            }
            Status::Interrupted => "interrupted".into(),
        }
    }

    fn ratio_cell(&self, w: Part, e: Setup, k: Setup, c: u8, f: &Figure) -> String {
        let (Some(em), Some(km)) = (self.ok_metrics(w, e, c), self.ok_metrics(w, k, c)) else {
            return "–".into();
        };
        let (ev, kv) = ((f.get)(em), (f.get)(km));
        let r = match f.kind {
            Kind::Latency => kv / ev,
            _ => ev / kv,
        };
        if r.is_finite() && r > 0.0 {
            ratio(r)
        } else {
            "–".into()
        }
    }

    fn workload_md(&self, s: &mut String, w: Part) {
        if !matches!(w, Part::Rpc64 | Part::Rpc1k | Part::Churn | Part::Stream) {
            return;
        }
        let _ = writeln!(s, "## {}\n", w.title());
        let _ = writeln!(
            s,
            "| cores | figure | engine ring | engine memif | kernel loopback | kernel veth | ring vs loopback | memif vs veth |"
        );
        let _ = writeln!(s, "|---|---|--:|--:|--:|--:|--:|--:|");
        let mut notes = Notes::default();
        for &c in &self.config.cores {
            for f in figures(w) {
                let _ = write!(s, "| {c} | {} ", f.name);
                for setup in [Setup::Ring, Setup::Memif, Setup::Loopback, Setup::Veth] {
                    let v = self.value_cell(w, setup, c, &f, &mut notes);
                    let _ = write!(s, "| {v} ");
                }
                let _ = writeln!(
                    s,
                    "| {} | {} |",
                    self.ratio_cell(w, Setup::Ring, Setup::Loopback, c, &f),
                    self.ratio_cell(w, Setup::Memif, Setup::Veth, c, &f)
                );
            }
        }
        s.push('\n');
        notes.write(s);
    }

    fn raw_md(&self, s: &mut String) {
        if self.raw.is_empty() {
            return;
        }
        let _ = writeln!(s, "## Raw link ceiling\n");
        let _ = writeln!(
            s,
            "`bench bounce`: {} B frames over the same DPDK links with no TCP. One side keeps W \
             frames in flight, the other swaps the MAC addresses and sends each frame straight \
             back; the sender sends every returning frame out again, so no mbuf is allocated in \
             the steady state. *Frames/s each way* is what the sender gets back per second \
             (each frame crosses the link twice, so the link carries twice that in total). \
             Same CPUs as the TCP cells (1 core: one thread runs both sides in turn; 2 cores: a \
             CPU per side).\n",
            self.config.raw_frame_len
        );
        let _ = writeln!(
            s,
            "| link | cores | window W | frames/s each way | mean round trip µs | other CPU % |\n|---|---|--:|--:|--:|--:|"
        );
        let mut notes = Notes::default();
        for r in &self.raw {
            let link = match r.link {
                Link::Ring => "net_ring (1 process)",
                Link::Memif => "memif (2 processes)",
            };
            let (fps, rtt) = match &r.status {
                Status::Ok => (
                    group(r.frames_per_sec.unwrap_or(0.0)),
                    lat(r.mean_rtt_us.unwrap_or(0.0)),
                ),
                Status::Failed(e) => {
                    let n = notes.add(format!("{}: failed: {}", r.id, short(e)));
                    (format!("failed <sup>{n}</sup>"), "–".into())
                }
                Status::Skipped(e) => {
                    let n = notes.add(format!("{link}: {}", short(e)));
                    (format!("n/a <sup>{n}</sup>"), "–".into())
                }
                Status::Interrupted => ("interrupted".into(), "–".into()),
            };
            let _ = writeln!(
                s,
                "| {link} | {} | {} | {fps} | {rtt} | {:.0} |",
                r.cores, r.window, r.interference.other_cpu_pct
            );
        }
        s.push('\n');
        notes.write(s);
        let _ = writeln!(
            s,
            "**TCP echo against the raw link.** A 64 B echo request and its response are one \
             frame each way (the ACKs ride on them; 64 B of payload plus 54–66 B of headers, \
             against the raw link's 64 B frames), so TCP echo moves *req/s* frames each way. \
             The ratio compares like with like: TCP frames each way ÷ the raw ceiling's frames \
             each way (the best window); equivalently 2 × req/s ÷ the raw link's total frames \
             in both directions.\n"
        );
        let _ = writeln!(
            s,
            "| link | cores | raw ceiling, frames/s each way (W) | TCP 64 B echo req/s | TCP ÷ raw |\n|---|---|--:|--:|--:|"
        );
        for &c in &self.config.cores {
            for (link, setup, name) in [
                (Link::Ring, Setup::Ring, "net_ring"),
                (Link::Memif, Setup::Memif, "memif"),
            ] {
                let raw = self.raw_ceiling(link, c);
                let tcp = self.ok_metrics(Part::Rpc64, setup, c);
                if raw.is_none() && tcp.is_none() {
                    continue;
                }
                let _ = writeln!(
                    s,
                    "| {name} | {c} | {} | {} | {} |",
                    raw.map_or("–".into(), |(f, w)| format!("{} (W={w})", group(f))),
                    tcp.map_or("–".into(), |m| group(m.requests_per_sec)),
                    raw.zip(tcp).map_or("–".into(), |((f, _), m)| format!(
                        "{:.2}",
                        m.requests_per_sec / f
                    ))
                );
            }
        }
        s.push('\n');
    }

    fn appendix_md(&self, s: &mut String) {
        let _ = writeln!(s, "## All cells\n");
        let _ = writeln!(
            s,
            "| cell | status | req/s | conn/s | Gbit/s | p50 µs | p90 µs | p99 µs | p99.9 µs | errors | wall s | other CPU % |\n|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
        );
        for c in &self.cells {
            let st = match &c.status {
                Status::Ok => "ok".to_string(),
                Status::Failed(_) => "failed".into(),
                Status::Skipped(_) => "skipped".into(),
                Status::Interrupted => "interrupted".into(),
            };
            match &c.metrics {
                Some(m) => {
                    // Only the figures the workload measures.
                    let (churn, stream) = (c.workload == Part::Churn, c.workload == Part::Stream);
                    let dash = |show: bool, v: String| if show { v } else { "–".into() };
                    let _ = writeln!(
                        s,
                        "| {} | {st} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.0} |",
                        c.id,
                        dash(!stream, group(m.requests_per_sec)),
                        dash(churn, group(m.connections_per_sec)),
                        dash(!churn, gbps(m.gbps)),
                        dash(!stream, lat(m.p50_us)),
                        dash(!stream, lat(m.p90_us)),
                        dash(!stream, lat(m.p99_us)),
                        dash(!stream, lat(m.p999_us)),
                        m.errors,
                        c.wall_s,
                        c.interference.other_cpu_pct
                    );
                }
                None => {
                    let _ = writeln!(s, "| {} | {st} | | | | | | | | | {:.1} | |", c.id, c.wall_s);
                }
            }
        }
        s.push('\n');
        let _ = writeln!(
            s,
            "Reproduce: `cargo run --release -p bench` (as root; a few minutes; `--quick` for \
             a 1 s-per-cell smoke run; `--help` for the options). Logs of every process are in \
             the output directory's `logs/`.\n"
        );
    }
}
