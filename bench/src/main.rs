//! `bench`: the engine and the Linux kernel side by side, in one run.
//!
//! ```text
//! cargo run --release -p bench                 # the whole matrix (a few minutes, as root)
//! cargo run --release -p bench -- --quick      # 1 s per cell
//! cargo run --release -p bench -- --only rpc64 --cores 1 --setups ring,loopback
//! cargo run --release -p bench -- --only loss  # goodput under loss (about 2 minutes)
//! cargo run --release -p bench -- --only scale # 16 to 100k connections, 1 to 2 CPUs
//! bench vtime --loss 1 --seed 1                # one virtual-time transfer by hand
//! bench bounce ring --cores 2 --window 256     # the raw link ceiling by hand
//! ```
//!
//! The matrix: 64 B echo RPC, 1 KiB echo RPC, churn and stream, on 1 and 2 cores, over engine
//! ring, engine memif, kernel loopback and kernel veth ([`cells`]); the raw DPDK link ceiling
//! ([`bounce`]); the engine's instructions per request ([`callgrind`]); bulk goodput under
//! random loss, the engine and Linux over veth and engine to engine in virtual time
//! ([`loss`]); request rate, p99 and memory from 16 to 100k connections and from one CPU to
//! two ([`scale`]). Output: `results.json` (every raw figure, loadgen's full reports) and
//! `RESULTS.md` (ratio tables, the issues' targets met or not, the machine, the definitions)
//! in `bench/out` ([`report`]).
//!
//! Every cell is a fresh set of child processes with a timeout; a failed cell is reported with
//! its error and the run goes on. The namespaces and veth pair live for the run and are removed
//! at the end, on failure and on Ctrl-C ([`netns`]); children die with the benchmark
//! ([`child`]).

mod bounce;
mod callgrind;
mod cells;
mod child;
mod cli;
mod loss;
mod machine;
mod netns;
mod report;
mod scale;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::Parser;

use cells::{Bins, Env, Status, Timing};
use cli::{Close, Link, Part, RunArgs, Setup};
use netns::{Netns, Veth};
use report::{Config, Results, group};

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match &cli.cmd {
        Some(cli::Cmd::Bounce(a)) => bounce::main(a),
        Some(cli::Cmd::Vtime(a)) => loss::vtime::main(a),
        Some(cli::Cmd::SetOffloads { ifname }) => loss::net::set_offloads_main(ifname),
        None => {
            child::install_signals();
            match run(&cli.run) {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("bench: error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn workspace() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// Finds loadgen and serve; unless told otherwise, builds them first with cargo, in the same
/// profile and target directory as this binary (so that they match the current source).
fn locate_bins(a: &RunArgs) -> Result<Bins, String> {
    let bench = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let here = bench
        .parent()
        .ok_or("this program has no directory")?
        .to_path_buf();
    let dir = a.bin_dir.clone().unwrap_or_else(|| here.clone());
    if a.bin_dir.is_none() && !a.no_build {
        let profile = here
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(&cargo);
        cmd.current_dir(workspace())
            .args(["build", "-p", "apps", "--bins", "--quiet"]);
        match profile.as_str() {
            "release" => {
                cmd.arg("--release");
            }
            "debug" => {}
            p => {
                cmd.args(["--profile", p]);
            }
        }
        if let Some(target) = here.parent() {
            cmd.arg("--target-dir").arg(target);
        }
        eprintln!("bench: building loadgen and serve ({profile})");
        match cmd.status() {
            Ok(s) if s.success() => {}
            Ok(s) => eprintln!("bench: warning: `cargo build -p apps` failed ({s})"),
            Err(e) => eprintln!("bench: warning: cannot run {cargo}: {e}"),
        }
    }
    let bins = Bins {
        loadgen: dir.join("loadgen"),
        serve: dir.join("serve"),
        bench,
    };
    for p in [&bins.loadgen, &bins.serve] {
        if !p.exists() {
            return Err(format!(
                "{} does not exist: build it (cargo build --release -p apps) or give --bin-dir",
                p.display()
            ));
        }
    }
    Ok(bins)
}

fn sorted<T: Ord + Copy>(v: &[T], all: &[T]) -> Vec<T> {
    let mut out: Vec<T> = if v.is_empty() {
        all.to_vec()
    } else {
        v.to_vec()
    };
    out.sort();
    out.dedup();
    out
}

fn plural(c: u8) -> &'static str {
    if c == 1 { "" } else { "s" }
}

fn run(a: &RunArgs) -> Result<ExitCode, String> {
    let timing = Timing {
        duration: a.duration.unwrap_or(if a.quick { 1.0 } else { 3.0 }),
        warmup: a.warmup.unwrap_or(if a.quick { 0.3 } else { 1.0 }),
        drain: if a.quick { 0.5 } else { 1.0 },
    };
    let parts = sorted(
        &a.only,
        &[
            Part::Rpc64,
            Part::Rpc1k,
            Part::Churn,
            Part::Stream,
            Part::Raw,
            Part::Callgrind,
            Part::Loss,
            Part::Scale,
        ],
    );
    if parts.contains(&Part::Loss) {
        loss::check_rates(&a.loss_rates)?;
    }
    let workloads: Vec<Part> = parts
        .iter()
        .copied()
        .filter(|p| matches!(p, Part::Rpc64 | Part::Rpc1k | Part::Churn | Part::Stream))
        .collect();
    let setups = sorted(
        &a.setups,
        &[Setup::Ring, Setup::Memif, Setup::Loopback, Setup::Veth],
    );
    let cores = sorted(&a.cores, &[1, 2]);
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| workspace().join("bench/out"));
    let logs = out.join("logs");
    let _ = std::fs::remove_dir_all(&logs);
    std::fs::create_dir_all(&logs).map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(
            "bench needs root (network namespaces, veth, DPDK ports): run it as root".into(),
        );
    }
    let bins = locate_bins(a)?;
    if child::interrupted() {
        return Err("interrupted".into());
    }
    netns::remove_stale();
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut machine = machine::collect(&workspace());
    let cpu_start = machine::CpuSnapshot::take();

    let kernel_cells = !workloads.is_empty();
    let mut sysctls = BTreeMap::new();
    let lo = if kernel_cells && setups.contains(&Setup::Loopback) {
        let ns = Netns::create("lo")?;
        tune(&ns, a, &mut sysctls);
        Some(ns)
    } else {
        None
    };
    let veth = if kernel_cells && setups.contains(&Setup::Veth) {
        let v = Veth::create(1500)?;
        tune(&v.client, a, &mut sysctls);
        tune(&v.server, a, &mut sysctls);
        Some(v)
    } else {
        None
    };
    let veth_offloads = veth.as_ref().map(Veth::offloads).unwrap_or_default();
    let veth_mtu = veth.as_ref().map_or(1500, |v| v.mtu);
    let env = Env {
        bins,
        logs: logs.clone(),
        timing,
        close: a.churn_close,
        tw_reuse_ms: a.tw_reuse_ms,
        lo,
        veth,
        ncpu,
    };
    let callgrind_secs = if a.quick { 1.0 } else { 3.0 };
    let mut results = Results {
        command: std::iter::once("bench".to_string())
            .chain(std::env::args().skip(1))
            .collect::<Vec<_>>()
            .join(" "),
        complete: true,
        machine: machine.clone(),
        cores_definition: report::CORES_DEFINITION.into(),
        config: Config {
            quick: a.quick,
            timing,
            repeat: a.repeat.max(1),
            workloads: workloads.clone(),
            setups: setups.clone(),
            cores: cores.clone(),
            churn_close: a.churn_close,
            tw_reuse_ms: a.tw_reuse_ms,
            raw_windows: a.raw_windows.clone(),
            raw_frame_len: 64,
            kernel_sysctls: sysctls,
            veth_mtu,
            veth_offloads,
            callgrind_seconds: callgrind_secs,
        },
        targets: Vec::new(),
        cells: Vec::new(),
        raw: Vec::new(),
        callgrind: None,
        loss: None,
        scale: None,
    };

    let raw_links: Vec<Link> = if parts.contains(&Part::Raw) {
        [Link::Ring, Link::Memif]
            .into_iter()
            .filter(|l| match l {
                Link::Ring => setups.contains(&Setup::Ring),
                Link::Memif => setups.contains(&Setup::Memif),
            })
            .collect()
    } else {
        Vec::new()
    };
    let reps = a.repeat.max(1);
    let runnable = |s: Setup, c: u8| env.skip_reason(s, c).is_none();
    let cells_n: usize = cores
        .iter()
        .map(|&c| setups.iter().filter(|&&s| runnable(s, c)).count())
        .sum();
    let raw_n: usize = cores
        .iter()
        .map(|&c| {
            raw_links
                .iter()
                .filter(|&&l| {
                    runnable(
                        if l == Link::Ring {
                            Setup::Ring
                        } else {
                            Setup::Memif
                        },
                        c,
                    )
                })
                .count()
        })
        .sum();
    let skipped_n = (workloads.len() * cores.len() * setups.len() - workloads.len() * cells_n)
        + (raw_links.len() * cores.len() - raw_n) * a.raw_windows.len();
    let total = (workloads.len() * cells_n + raw_n * a.raw_windows.len()) * usize::from(reps)
        + skipped_n
        + usize::from(parts.contains(&Part::Callgrind))
        + if parts.contains(&Part::Loss) {
            loss::steps(&loss_args(a))
        } else {
            0
        }
        + if parts.contains(&Part::Scale) {
            scale::steps()
        } else {
            0
        };
    let mut step = 0;
    let mut progress = |what: &str, run: Option<u8>, result: &str, wall: f64| {
        step += 1;
        let run = match run {
            Some(r) if reps > 1 => format!(" (run {}/{reps})", r + 1),
            _ => String::new(),
        };
        eprintln!("bench: [{step:>2}/{total}] {what}{run}: {result} ({wall:.1} s)");
    };

    // Workloads first; the set-ups of one row run back to back, and repeated runs go round the
    // row again, so that the machine's drifting noise falls on every set-up alike.
    'cells: for &w in &workloads {
        for &c in &cores {
            let mut runs: Vec<Vec<cells::Cell>> = vec![Vec::new(); setups.len()];
            'row: for run in 0..reps {
                for (k, &s) in setups.iter().enumerate() {
                    if child::interrupted() {
                        break 'row;
                    }
                    if runs[k]
                        .first()
                        .is_some_and(|x| matches!(x.status, Status::Skipped(_)))
                    {
                        continue;
                    }
                    let cell = env.run_cell(w, s, c, run);
                    let res = match (&cell.status, &cell.metrics) {
                        (Status::Ok, Some(m)) => match w {
                            Part::Churn => format!(
                                "{} conn/s, p99 {:.1} µs",
                                group(m.connections_per_sec),
                                m.p99_us
                            ),
                            Part::Stream => format!("{:.3} Gbit/s", m.gbps),
                            _ => format!(
                                "{} req/s, p50 {:.1} µs, p99 {:.1} µs",
                                group(m.requests_per_sec),
                                m.p50_us,
                                m.p99_us
                            ),
                        },
                        (st, _) => status_line(st),
                    };
                    progress(
                        &format!("{}, {c} core{}, {}", w.key(), plural(c), s.label()),
                        Some(run),
                        &res,
                        cell.wall_s,
                    );
                    runs[k].push(cell);
                }
            }
            for r in runs {
                let m = cells::median(
                    r,
                    |x| {
                        (x.status == Status::Ok)
                            .then(|| x.metrics.as_ref().map(|m| m.headline(w)))
                            .flatten()
                    },
                    |x, all| x.runs = all,
                );
                results.cells.extend(m);
            }
            if child::interrupted() {
                break 'cells;
            }
        }
    }
    'raw: for &l in &raw_links {
        for &c in &cores {
            for &w in &a.raw_windows {
                let mut runs = Vec::new();
                for run in 0..reps {
                    if child::interrupted() {
                        results.raw.extend(cells::median(runs, |_| None, |_, _| {}));
                        break 'raw;
                    }
                    let r = env.run_raw(l, c, w, run);
                    let res = match (&r.status, r.frames_per_sec) {
                        (Status::Ok, Some(f)) => format!(
                            "{} frames/s each way, mean RTT {:.2} µs",
                            group(f),
                            r.mean_rtt_us.unwrap_or(0.0)
                        ),
                        (st, _) => status_line(st),
                    };
                    progress(
                        &format!("raw {l:?}, {c} core{}, window {w}", plural(c)).to_lowercase(),
                        Some(run),
                        &res,
                        r.wall_s,
                    );
                    let skipped = matches!(r.status, Status::Skipped(_));
                    runs.push(r);
                    if skipped {
                        break;
                    }
                }
                let m = cells::median(
                    runs,
                    |x| {
                        (x.status == Status::Ok)
                            .then_some(x.frames_per_sec)
                            .flatten()
                    },
                    |x, all| x.runs = all,
                );
                results.raw.extend(m);
            }
        }
    }
    if parts.contains(&Part::Callgrind) && !child::interrupted() {
        let cg = callgrind::run(&env.bins, &logs, callgrind_secs, 0.5);
        let res = match (&cg.status, cg.per_request_total) {
            (Status::Ok, Some(t)) => format!(
                "{} instructions per request (server {})",
                group(t),
                cg.per_request_server.map_or("–".into(), group)
            ),
            (st, _) => status_line(st),
        };
        progress("callgrind, engine 64 B rpc, 1 core", None, &res, cg.wall_s);
        results.callgrind = Some(cg);
    }

    if parts.contains(&Part::Loss) && !child::interrupted() {
        let mut p = |what: &str, res: &str, wall: f64| progress(what, None, res, wall);
        results.loss = Some(loss::run(&loss_args(a), &env.bins, &logs, ncpu, &mut p));
    }

    if parts.contains(&Part::Scale) && !child::interrupted() {
        let mut p = |what: &str, res: &str, wall: f64| progress(what, None, res, wall);
        results.scale = Some(scale::run(&env.bins, &logs, scale_timing(a), &mut p));
    }

    results.complete = !child::interrupted();
    machine.loadavg_end = machine::loadavg();
    machine.interference = cpu_start.since(&machine::CpuSnapshot::take(), ncpu);
    results.machine = machine;
    results.evaluate_targets();
    let json = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
    let md = results.markdown();
    let (jp, mp) = (out.join("results.json"), out.join("RESULTS.md"));
    std::fs::write(&jp, json + "\n").map_err(|e| format!("cannot write {}: {e}", jp.display()))?;
    std::fs::write(&mp, &md).map_err(|e| format!("cannot write {}: {e}", mp.display()))?;
    drop(env); // removes the namespaces
    println!("{md}");
    eprintln!("bench: wrote {} and {}", mp.display(), jp.display());
    if !results.complete {
        eprintln!("bench: interrupted: the results are incomplete");
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}

/// The loss part's arguments: its own cell length (5 s, or 2 s with --quick) unless
/// --duration or --warmup say otherwise.
fn loss_args(a: &RunArgs) -> loss::LossArgs {
    let mut rates = a.loss_rates.clone();
    rates.sort_by(f64::total_cmp);
    rates.dedup();
    loss::LossArgs {
        rates_pct: rates,
        linux_cc: a.linux_cc.clone(),
        seeds: a.vt_seeds.clone(),
        rtt_us: a.vt_rtt_us,
        timing: cells::Timing {
            duration: a.duration.unwrap_or(if a.quick { 2.0 } else { 5.0 }),
            warmup: a.warmup.unwrap_or(if a.quick { 0.5 } else { 1.0 }),
            drain: if a.quick { 0.5 } else { 1.0 },
        },
    }
}

/// The scale part's cell length: 3 s after 1 s of warm-up (1 s after 0.3 s with --quick),
/// unless --duration or --warmup say otherwise.
fn scale_timing(a: &RunArgs) -> Timing {
    Timing {
        duration: a.duration.unwrap_or(if a.quick { 1.0 } else { 3.0 }),
        warmup: a.warmup.unwrap_or(if a.quick { 0.3 } else { 1.0 }),
        drain: if a.quick { 0.5 } else { 1.0 },
    }
}

/// TIME_WAIT reuse in a kernel set-up's namespace, as the engine gets it (`--tw-reuse-ms`).
fn tune(ns: &Netns, a: &RunArgs, seen: &mut BTreeMap<String, String>) {
    let mut set = vec![("net.ipv4.tcp_tw_reuse", "1".to_string())];
    if a.churn_close == Close::Fin {
        set.push(("net.ipv4.tcp_tw_reuse_delay", a.tw_reuse_ms.to_string()));
    }
    for (k, v) in set {
        if let Err(e) = ns.sysctl(k, &v) {
            eprintln!("bench: warning: {e}");
        }
    }
    for k in [
        "net.ipv4.tcp_tw_reuse",
        "net.ipv4.tcp_tw_reuse_delay",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_timestamps",
    ] {
        if let Some(v) = ns.sysctl_get(k) {
            seen.insert(
                k.to_string(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            );
        }
    }
}

pub fn status_line(st: &Status) -> String {
    match st {
        Status::Ok => "ok".into(),
        Status::Failed(e) => format!("FAILED: {e}"),
        Status::Skipped(e) => format!("skipped: {e}"),
        Status::Interrupted => "interrupted".into(),
    }
}
