//! The scale part of the matrix (`bench --only scale`): the engine and Linux at 16, 1k, 10k and
//! 100k connections, and from one core to two.
//!
//! - *Connections* ([`run`]): `loadgen rpc` (64 B echo, one request in flight on each
//!   connection) at each connection count on one CPU, the engine's embedded set-up (client and
//!   server stacks in one thread, `--layout shared`) beside Linux over loopback in a private
//!   namespace (`serve echo --stack kernel` and `loadgen --stack kernel`, both under
//!   `taskset -c 0`). Reported: req/s, p99, errors, retransmissions, how long the connections
//!   took to open, and memory.
//! - *Memory per connection*: the engine's is the difference of loadgen's peak resident set
//!   (`wait4`'s `ru_maxrss`, both ends are in that process) between the largest count and 16,
//!   over twice the count; Linux's is what its slab caches (`/proc/slabinfo`, every cache) and
//!   TCP buffer pages (`/proc/net/sockstat` `mem`) grew by once every connection of both ends
//!   was open (`TCP: inuse` at twice the count), over twice the count. Linux needs a
//!   descriptor per connection end, so its cells are skipped above the hard limit on open
//!   files (`RLIMIT_NOFILE`; 20,000 on this project's VM, which lacks `CAP_SYS_RESOURCE`).
//! - *Cores*: 16 connections on one CPU and on two (`--cores 2 --layout shared`; Linux:
//!   `loadgen --cores 2` and `serve --threads 2` under `taskset -c 0,1`).
//!
//! Every cell is a fresh set of processes with a timeout; a failed cell is reported and the
//! part goes on.

mod markdown;

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use crate::cells::{Bins, Status, Timing, loadgen_args_on, wait_child};
use crate::child::{self, Child};
use crate::netns::Netns;

/// The connection counts of the part.
pub const CONNS: [u32; 4] = [16, 1_000, 10_000, 100_000];
/// Descriptors a kernel-side process needs beyond one per connection.
const FD_SLACK: u64 = 256;

/// The hard limit on open files (`RLIMIT_NOFILE`): a process may raise its soft limit to
/// it, no further without `CAP_SYS_RESOURCE`.
fn nofile_hard() -> u64 {
    // SAFETY: an all-zero rlimit is a valid out-parameter.
    let mut r: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: valid resource and out-parameter.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return 1024;
    }
    r.rlim_max
}
/// Ephemeral ports per kernel client address (`ip_local_port_range` 1024–65535, minus slack).
const KERNEL_PORTS_PER_ADDR: u32 = 60_000;

/// Which stack a cell ran.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Stack {
    Engine,
    Kernel,
}

/// One run of `loadgen rpc` at one connection count.
#[derive(Serialize, Clone, Debug)]
pub struct ScaleCell {
    pub stack: Stack,
    pub conns: u32,
    pub cores: u8,
    #[serde(flatten)]
    pub status: Status,
    pub requests_per_sec: Option<f64>,
    pub p99_us: Option<f64>,
    pub errors: Option<u64>,
    /// `TcpRetransSegs` of the engine (both stacks summed).
    pub retrans_segs: Option<u64>,
    /// Seconds from the client's start until every connection was open.
    pub open_s: Option<f64>,
    /// The client process's peak resident set (the engine's: client and server).
    pub max_rss_kib: Option<u64>,
    /// Linux: slab and TCP buffer bytes added with every connection of both ends open.
    pub kernel_bytes: Option<u64>,
    pub client_cmd: Vec<String>,
    pub wall_s: f64,
}

/// The scale part's results.
#[derive(Serialize, Clone, Debug)]
pub struct ScaleResults {
    pub timing: Timing,
    pub setup_error: Option<String>,
    pub cells: Vec<ScaleCell>,
}

impl ScaleResults {
    fn cell(&self, stack: Stack, conns: u32, cores: u8) -> Option<&ScaleCell> {
        self.cells
            .iter()
            .find(|c| c.stack == stack && c.conns == conns && c.cores == cores)
            .filter(|c| c.status == Status::Ok)
    }

    /// Bytes per connection end at `conns` (see the module documentation).
    pub fn bytes_per_conn(&self, stack: Stack, conns: u32) -> Option<f64> {
        let c = self.cell(stack, conns, 1)?;
        let ends = 2.0 * f64::from(conns);
        match stack {
            Stack::Engine => {
                let base = self.cell(stack, CONNS[0], 1)?.max_rss_kib?;
                let kib = c.max_rss_kib?.saturating_sub(base);
                Some(kib as f64 * 1024.0 / ends)
            }
            Stack::Kernel => Some(c.kernel_bytes? as f64 / ends),
        }
    }
}

/// Steps the part takes (for the progress count).
pub fn steps() -> usize {
    2 * CONNS.len() + 2
}

/// Runs the part. `progress(what, result, wall_s)` is called after each cell.
pub fn run(
    bins: &Bins,
    logs: &Path,
    timing: Timing,
    progress: &mut dyn FnMut(&str, &str, f64),
) -> ScaleResults {
    let mut res = ScaleResults {
        timing,
        setup_error: None,
        cells: Vec::new(),
    };
    let ns = match kernel_namespace() {
        Ok(ns) => Some(ns),
        Err(e) => {
            res.setup_error = Some(e);
            None
        }
    };
    let mut plan: Vec<(Stack, u32, u8)> = Vec::new();
    for &n in &CONNS {
        plan.push((Stack::Engine, n, 1));
        plan.push((Stack::Kernel, n, 1));
    }
    plan.push((Stack::Engine, CONNS[0], 2));
    plan.push((Stack::Kernel, CONNS[0], 2));
    for (stack, conns, cores) in plan {
        if child::interrupted() {
            break;
        }
        let cell = match (stack, &ns) {
            (Stack::Engine, _) => engine_cell(bins, logs, timing, conns, cores),
            (Stack::Kernel, Some(_)) if u64::from(conns) + FD_SLACK > nofile_hard() => {
                let why = format!(
                    "Linux needs a descriptor per connection in each process and the hard \
                     limit on open files here is {} (raising it needs CAP_SYS_RESOURCE)",
                    nofile_hard()
                );
                skipped(stack, conns, cores, &why)
            }
            (Stack::Kernel, Some(ns)) => kernel_cell(bins, logs, timing, ns, conns, cores),
            (Stack::Kernel, None) => skipped(stack, conns, cores, "no namespace"),
        };
        let what = format!(
            "scale, {} {conns} connections, {cores} core{}",
            if stack == Stack::Engine {
                "engine"
            } else {
                "kernel"
            },
            if cores == 1 { "" } else { "s" }
        );
        progress(&what, &summary(&cell), cell.wall_s);
        res.cells.push(cell);
    }
    res
}

fn summary(c: &ScaleCell) -> String {
    match (&c.status, c.requests_per_sec) {
        (Status::Ok, Some(r)) => format!(
            "{} req/s, p99 {:.0} µs, opened in {}",
            crate::report::group(r),
            c.p99_us.unwrap_or(0.0),
            c.open_s.map_or("–".into(), |s| format!("{s:.2} s"))
        ),
        (st, _) => crate::status_line(st),
    }
}

fn skipped(stack: Stack, conns: u32, cores: u8, why: &str) -> ScaleCell {
    let mut c = blank(stack, conns, cores);
    c.status = Status::Skipped(why.into());
    c
}

fn blank(stack: Stack, conns: u32, cores: u8) -> ScaleCell {
    ScaleCell {
        stack,
        conns,
        cores,
        status: Status::Ok,
        requests_per_sec: None,
        p99_us: None,
        errors: None,
        retrans_segs: None,
        open_s: None,
        max_rss_kib: None,
        kernel_bytes: None,
        client_cmd: Vec::new(),
        wall_s: 0.0,
    }
}

/// The private namespace of the kernel cells, with room for 100k connections per address.
fn kernel_namespace() -> Result<Netns, String> {
    let ns = Netns::create("scale")?;
    for (k, v) in [
        ("net.ipv4.ip_local_port_range", "1024 65535"),
        ("net.core.somaxconn", "65535"),
        ("net.ipv4.tcp_max_syn_backlog", "65535"),
        ("net.ipv4.tcp_tw_reuse", "1"),
    ] {
        ns.sysctl(k, v)?;
    }
    Ok(ns)
}

/// Client addresses needed for `conns` connections to one target.
fn addrs_for(conns: u32, per_addr: u32) -> u32 {
    conns.div_ceil(per_addr).max(1)
}

fn rpc_args(t: &Timing, conns: u32, cores: u8, json: &Path) -> Vec<String> {
    let mut a = child::strings(&["rpc", "--conns"]);
    a.push(conns.to_string());
    a.extend(loadgen_args_on(t, cores, json));
    a
}

fn cpus(cores: u8) -> &'static str {
    if cores == 1 { "0" } else { "0,1" }
}

/// A generous limit: opening 100k connections, then the run.
fn timeout(t: &Timing) -> Duration {
    Duration::from_secs_f64(t.warmup + t.duration + t.drain + 120.0)
}

fn engine_cell(bins: &Bins, logs: &Path, t: Timing, conns: u32, cores: u8) -> ScaleCell {
    let start = Instant::now();
    let mut cell = blank(Stack::Engine, conns, cores);
    let id = format!("scale-engine-{conns}-{cores}c");
    let json = logs.join(format!("{id}.json"));
    let mut argv = child::strings(&["taskset", "-c", cpus(cores)]);
    argv.push(bins.loadgen.display().to_string());
    argv.extend(rpc_args(&t, conns, cores, &json));
    argv.extend(child::strings(&["--layout", "shared"]));
    cell.client_cmd = argv.clone();
    let outcome = child::spawn(&argv, logs, &id).map_err(Status::Failed);
    cell.status = match outcome {
        Ok(mut c) => {
            let r = wait_child(&mut c, timeout(&t), "loadgen");
            cell.max_rss_kib = c.max_rss_kib;
            r.err().unwrap_or(Status::Ok)
        }
        Err(s) => s,
    };
    read_report(&mut cell, &json);
    cell.wall_s = start.elapsed().as_secs_f64();
    cell
}

fn kernel_cell(
    bins: &Bins,
    logs: &Path,
    t: Timing,
    ns: &Netns,
    conns: u32,
    cores: u8,
) -> ScaleCell {
    let start = Instant::now();
    let mut cell = blank(Stack::Kernel, conns, cores);
    let id = format!("scale-kernel-{conns}-{cores}c");
    let json = logs.join(format!("{id}.json"));
    let port = 30000 + (std::process::id() % 20000) as u16;
    let limited = |cpus: &str| {
        let mut v = ns.prefix();
        let nofile = nofile_hard();
        v.extend(child::strings(&["prlimit", &format!("--nofile={nofile}")]));
        v.extend(child::strings(&["taskset", "-c", cpus]));
        v
    };
    let mut sargv = limited(cpus(cores));
    sargv.push(bins.serve.display().to_string());
    sargv.extend(child::strings(&["echo", "--stack", "kernel", "--listen"]));
    sargv.push(port.to_string());
    sargv.extend(["--threads".into(), cores.to_string()]);
    let mut srv = match child::spawn(&sargv, logs, &format!("{id}-server")) {
        Ok(s) => s,
        Err(e) => {
            cell.status = Status::Failed(e);
            return cell;
        }
    };
    if let Err(e) = srv.wait_until(Duration::from_secs(20), |c| {
        c.stdout().contains("serve: ready")
    }) {
        cell.status = Status::Failed(e);
        return cell;
    }
    let mut argv = limited(cpus(cores));
    argv.push(bins.loadgen.display().to_string());
    argv.extend(rpc_args(&t, conns, cores, &json));
    argv.extend(child::strings(&["--stack", "kernel", "--target"]));
    argv.push(format!("127.0.0.1:{port}"));
    let addrs = addrs_for(conns, KERNEL_PORTS_PER_ADDR);
    if addrs > 1 {
        argv.extend(child::strings(&["--ip", "127.0.0.1/8", "--source-ips"]));
        argv.push(addrs.to_string());
    }
    cell.client_cmd = argv.clone();
    let base = kernel_memory(ns);
    let outcome = child::spawn(&argv, logs, &id).map_err(Status::Failed);
    cell.status = match outcome {
        Ok(mut c) => {
            let opened = wait_open(&mut c, ns, conns, timeout(&t));
            if let (Some(_), Some(b), Some(now)) = (opened, base, kernel_memory(ns)) {
                cell.kernel_bytes = Some(now.saturating_sub(b));
            }
            let r = wait_child(&mut c, timeout(&t), "loadgen");
            cell.max_rss_kib = c.max_rss_kib;
            r.err().unwrap_or(Status::Ok)
        }
        Err(s) => s,
    };
    srv.stop(Duration::from_secs(5));
    read_report(&mut cell, &json);
    cell.wall_s = start.elapsed().as_secs_f64();
    cell
}

/// Waits until the namespace holds both ends of `conns` connections (`TCP: inuse`), the
/// client exits, or `limit`; the seconds it took, if they all opened (the memory sample is
/// taken then; the time to open is loadgen's own `connections_open_s`).
fn wait_open(c: &mut Child, ns: &Netns, conns: u32, limit: Duration) -> Option<f64> {
    let start = Instant::now();
    while start.elapsed() < limit && !child::interrupted() {
        if c.try_status().is_some() {
            return None;
        }
        let inuse = sockstat(ns).and_then(|s| field(&s, "TCP:", "inuse"));
        if inuse.is_some_and(|n| n >= 2 * u64::from(conns)) {
            return Some(start.elapsed().as_secs_f64());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn sockstat(ns: &Netns) -> Option<String> {
    ns.exec(&["cat", "/proc/net/sockstat"]).ok()
}

/// The number after `key` on the line starting with `line`.
fn field(text: &str, line: &str, key: &str) -> Option<u64> {
    let l = text.lines().find(|l| l.starts_with(line))?;
    let mut it = l.split_whitespace();
    it.find(|w| *w == key)?;
    it.next()?.parse().ok()
}

/// Slab bytes in use (every cache: active objects × object size) plus TCP's buffer pages.
fn kernel_memory(ns: &Netns) -> Option<u64> {
    let slab = std::fs::read_to_string("/proc/slabinfo").ok()?;
    let bytes: u64 = slab
        .lines()
        .skip(2)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some(f.get(1)?.parse::<u64>().ok()? * f.get(3)?.parse::<u64>().ok()?)
        })
        .sum();
    let pages = sockstat(ns).and_then(|s| field(&s, "TCP:", "mem"))?;
    Some(bytes + pages * 4096)
}

/// Takes the figures from loadgen's JSON report; a run that did not open every connection or
/// had errors fails.
fn read_report(cell: &mut ScaleCell, json: &Path) {
    let Some(v) = std::fs::read_to_string(json)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
    else {
        if cell.status == Status::Ok {
            cell.status = Status::Failed(format!("loadgen wrote no JSON to {}", json.display()));
        }
        return;
    };
    cell.requests_per_sec = v.get("requests_per_sec").and_then(Value::as_f64);
    cell.p99_us = v.pointer("/latency_us/p99").and_then(Value::as_f64);
    cell.errors = v.get("errors").and_then(Value::as_u64);
    cell.retrans_segs = v
        .pointer("/engine_counters/TcpRetransSegs")
        .and_then(Value::as_u64);
    if cell.open_s.is_none() {
        cell.open_s = v.get("connections_open_s").and_then(Value::as_f64);
    }
    if cell.status == Status::Ok && v.get("failure").is_some_and(|f| !f.is_null()) {
        cell.status = Status::Failed(v["failure"].as_str().unwrap_or("failed").to_string());
    }
    if cell.status == Status::Ok && cell.errors.unwrap_or(0) > 0 {
        cell.status = Status::Failed(format!("{} errors", cell.errors.unwrap_or(0)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockstat_fields_are_read_by_name() {
        let s = "sockets: used 12\nTCP: inuse 200004 orphan 0 tw 3 alloc 200010 mem 1234\n";
        assert_eq!(field(s, "TCP:", "inuse"), Some(200_004));
        assert_eq!(field(s, "TCP:", "mem"), Some(1234));
        assert_eq!(field(s, "UDP:", "inuse"), None);
    }

    #[test]
    fn enough_client_addresses_for_the_count() {
        assert_eq!(addrs_for(16, KERNEL_PORTS_PER_ADDR), 1);
        assert_eq!(addrs_for(60_000, KERNEL_PORTS_PER_ADDR), 1);
        assert_eq!(addrs_for(100_000, KERNEL_PORTS_PER_ADDR), 2);
    }
}
