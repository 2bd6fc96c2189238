//! Instructions per request of the engine, counted by callgrind.
//!
//! The embedded `loadgen rpc --layout shared --conns 16` runs under `valgrind --tool=callgrind`
//! for a short fixed time: one thread runs the client stack's step and the server stack's step
//! in turn. `callgrind_annotate --inclusive=yes --tree=calling` lists what that thread's function
//! (`Ctx::client_thread`) calls, with the inclusive cost and the number of calls of each callee.
//! Callees called a few times (stack creation, listening, connecting) are start-up and are left
//! out, as is everything outside the thread (EAL start-up, port set-up, the coordinator); the
//! rest of the thread is the steady-state loop. `ClientCore::step` is the client's share;
//! `ServerCore::step` the server's if the compiler kept it, else the rest of the loop (the
//! server's poll inlined into the thread, and the callbacks it makes). Divided by the requests
//! of the whole run (loadgen's `totals.responses`, since callgrind counts warm-up and drain too),
//! that is the instructions per request.
//!
//! The kernel cannot be measured this way: callgrind sees only user-space instructions, and
//! the kernel stack runs in the kernel.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use crate::cells::{Bins, Status};
use crate::child::{self, Waited};
use crate::report::{group, short};

/// One callee of the loop thread.
#[derive(Serialize, Clone, Debug)]
pub struct Callee {
    pub function: String,
    pub inclusive_ir: u64,
    pub calls: u64,
    /// client, server, or startup.
    pub role: &'static str,
}

#[derive(Serialize, Clone, Debug)]
pub struct Callgrind {
    #[serde(flatten)]
    pub status: Status,
    pub cmd: Vec<String>,
    /// Requests answered over the whole run (warm-up and drain included).
    pub requests: u64,
    /// Loop iterations (calls of the per-iteration functions) and idle client polls.
    pub iterations: u64,
    pub idle_polls: u64,
    pub program_ir: u64,
    /// The loop thread's inclusive cost, and the same without its start-up callees.
    pub thread_ir: u64,
    pub loop_ir: u64,
    /// How client and server were told apart.
    pub split: String,
    pub client_ir: u64,
    pub server_ir: Option<u64>,
    pub per_request_total: Option<f64>,
    pub per_request_client: Option<f64>,
    pub per_request_server: Option<f64>,
    pub callees: Vec<Callee>,
    pub loadgen: Option<Value>,
    pub wall_s: f64,
}

/// A `COST (PCT)  >|*  FILE:FUNCTION [(Nx)] [OBJ]` line of callgrind_annotate's tree output.
struct TreeLine {
    cost: u64,
    caller: bool,
    callee: bool,
    function: String,
    calls: u64,
    has_obj: bool,
}

fn parse_tree_line(line: &str) -> Option<TreeLine> {
    let l = line.trim_start();
    let (cost, rest) = l.split_once(' ')?;
    let cost: u64 = cost.replace(',', "").parse().ok()?;
    let rest = rest.trim_start();
    let rest = rest.strip_prefix('(')?.split_once(')')?.1.trim_start();
    let (mark, mut body) = (rest.chars().next()?, rest[1..].trim());
    if mark != '*' && mark != '>' && mark != '<' {
        return None;
    }
    let mut has_obj = false;
    if body.ends_with(']')
        && let Some(i) = body.rfind(" [")
    {
        body = &body[..i];
        has_obj = true;
    }
    let mut calls = 0;
    if body.ends_with("x)")
        && let Some(i) = body.rfind(" (")
    {
        calls = body[i + 2..body.len() - 2].replace(',', "").parse().ok()?;
        body = &body[..i];
    }
    // FILE:FUNCTION; file names have no ':' ("???" when unknown).
    let function = body.split_once(':').map_or(body, |(_, f)| f).to_string();
    Some(TreeLine {
        cost,
        caller: mark == '*',
        callee: mark == '>',
        function,
        calls,
        has_obj,
    })
}

/// Function name → (inclusive instructions, calls).
type CalleeMap = BTreeMap<String, (u64, u64)>;

/// The callees of `thread_fn`'s block, summed by function name; and the block's own total.
fn callees_of(tree: &str, thread_fn: &str) -> Option<(u64, CalleeMap)> {
    let mut in_block = false;
    let mut total = 0;
    let mut out = CalleeMap::new();
    for line in tree.lines() {
        if line.trim().is_empty() {
            if in_block {
                break;
            }
            continue;
        }
        let Some(t) = parse_tree_line(line) else {
            continue;
        };
        if t.caller {
            if in_block {
                break;
            }
            if t.has_obj && t.function.ends_with(thread_fn) {
                in_block = true;
                total = t.cost;
            }
            continue;
        }
        if in_block && t.callee {
            let e = out.entry(t.function).or_default();
            e.0 += t.cost;
            e.1 += t.calls;
        }
    }
    in_block.then_some((total, out))
}

/// An empty result for `cmd`.
fn run_result(cmd: Vec<String>) -> Callgrind {
    Callgrind {
        status: Status::Ok,
        cmd,
        requests: 0,
        iterations: 0,
        idle_polls: 0,
        program_ir: 0,
        thread_ir: 0,
        loop_ir: 0,
        split: String::new(),
        client_ir: 0,
        server_ir: None,
        per_request_total: None,
        per_request_client: None,
        per_request_server: None,
        callees: Vec::new(),
        loadgen: None,
        wall_s: 0.0,
    }
}

/// Runs the measurement; `secs` of measured load after `warmup`.
pub fn run(bins: &Bins, logs: &Path, secs: f64, warmup: f64) -> Callgrind {
    let start = Instant::now();
    let out_file = logs.join("callgrind.out");
    let json = logs.join("callgrind-loadgen.json");
    let _ = std::fs::remove_file(&out_file);
    let _ = std::fs::remove_file(&json);
    let mut cmd = child::strings(&["taskset", "-c", "0", "valgrind", "--tool=callgrind"]);
    cmd.push(format!("--callgrind-out-file={}", out_file.display()));
    cmd.extend([
        bins.loadgen.display().to_string(),
        "rpc".into(),
        "--layout".into(),
        "shared".into(),
        "--conns".into(),
        "16".into(),
        "--req-size".into(),
        "64".into(),
        "--cores".into(),
        "1".into(),
        "--duration".into(),
        secs.to_string(),
        "--warmup".into(),
        warmup.to_string(),
        "--drain".into(),
        "1".into(),
        "--memory-mb".into(),
        "512".into(),
        "-q".into(),
        "--json".into(),
        json.display().to_string(),
    ]);
    let mut r = run_result(cmd.clone());
    r.status = match measure(&cmd, logs, &out_file, &json, &mut r) {
        Ok(()) => Status::Ok,
        Err(s) => s,
    };
    r.wall_s = start.elapsed().as_secs_f64();
    r
}

fn measure(
    cmd: &[String],
    logs: &Path,
    out_file: &Path,
    json: &Path,
    r: &mut Callgrind,
) -> Result<(), Status> {
    let fail = |s: String| Status::Failed(s);
    let mut c = child::spawn(cmd, logs, "callgrind").map_err(fail)?;
    match c.wait(Duration::from_secs(600)) {
        Waited::Exited(st) if st.success() => {}
        Waited::Exited(st) => {
            return Err(fail(format!(
                "valgrind exited with {st}: {}",
                c.stderr_tail(3)
            )));
        }
        Waited::TimedOut => {
            c.stop(Duration::from_secs(5));
            return Err(fail("timed out after 600 s".into()));
        }
        Waited::Interrupted => {
            c.stop(Duration::from_secs(5));
            return Err(Status::Interrupted);
        }
    }
    let v: Value = std::fs::read_to_string(json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| fail("loadgen wrote no JSON under callgrind".into()))?;
    let totals = v.get("totals");
    let tot = |k: &str| {
        totals
            .and_then(|t| t.get(k))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    r.requests = tot("responses");
    r.idle_polls = tot("idle_polls");
    r.loadgen = Some(v);
    if r.requests == 0 {
        return Err(fail("no request completed under callgrind".into()));
    }
    let out = out_file.display().to_string();
    let tree = child::run(&[
        "callgrind_annotate",
        "--inclusive=yes",
        "--tree=calling",
        "--threshold=100",
        &out,
    ])
    .map_err(fail)?;
    let _ = std::fs::write(logs.join("callgrind-tree.txt"), &tree);
    r.program_ir = tree
        .lines()
        .find(|l| l.contains("PROGRAM TOTALS"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.replace(',', "").parse().ok())
        .unwrap_or(0);
    let (thread_ir, callees) = callees_of(&tree, "Ctx::client_thread").ok_or_else(|| {
        fail(
            "no Ctx::client_thread in callgrind's call tree (loadgen's engine driver changed?)"
                .into(),
        )
    })?;
    split(r, thread_ir, callees).map_err(fail)
}

/// Splits the loop thread's cost into client and server per request. The thread runs
/// start-up (callees called a few times: stack creation, listening, connecting) and then the
/// loop `client.step(); server.step()` until the end. Loop = the thread's inclusive cost minus
/// its start-up callees (whatever the compiler inlined into the loop stays in it). Client = the
/// callees named `ClientCore::...`; server = `ServerCore::...` callees if the compiler kept
/// them, else the rest of the loop (the server's poll inlined into the thread, plus its
/// callbacks).
fn split(r: &mut Callgrind, thread_ir: u64, callees: CalleeMap) -> Result<(), String> {
    for (f, (ir, calls)) in callees {
        let role = if calls < STARTUP_CALLS {
            "startup"
        } else if f.contains("ClientCore") {
            "client"
        } else if f.contains("ServerCore") {
            "server"
        } else {
            "loop"
        };
        r.callees.push(Callee {
            function: f,
            inclusive_ir: ir,
            calls,
            role,
        });
    }
    r.callees.sort_by_key(|c| std::cmp::Reverse(c.inclusive_ir));
    let sum = |role: &str| -> u64 {
        r.callees
            .iter()
            .filter(|c| c.role == role)
            .map(|c| c.inclusive_ir)
            .sum()
    };
    let startup = sum("startup");
    let (client, server_fn) = (sum("client"), sum("server"));
    let total = thread_ir.saturating_sub(startup);
    r.thread_ir = thread_ir;
    r.loop_ir = total;
    r.iterations = r
        .callees
        .iter()
        .filter(|c| c.role == "client")
        .map(|c| c.calls)
        .max()
        .unwrap_or(0);
    if total == 0 || r.requests == 0 {
        return Err("no steady-state cost found in the loop thread".into());
    }
    let per = |x: u64| x as f64 / r.requests as f64;
    r.per_request_total = Some(per(total));
    if client == 0 {
        r.split = "not available: the client's step was inlined into the loop thread".into();
        return Ok(());
    }
    let server = if server_fn > 0 {
        r.split = "client = ClientCore::step, server = ServerCore::step (inclusive)".into();
        server_fn
    } else {
        r.split = "client = ClientCore::step (inclusive); server = the rest of the loop (its \
                   poll is inlined into the loop thread)"
            .into();
        total - client
    };
    r.client_ir = client;
    r.server_ir = Some(server);
    r.per_request_client = Some(per(client));
    r.per_request_server = Some(per(server));
    Ok(())
}

/// Callees called fewer times than this are start-up (a loop runs thousands of iterations).
const STARTUP_CALLS: u64 = 100;

impl crate::report::Results {
    /// The callgrind section of RESULTS.md.
    pub(crate) fn callgrind_md(&self, s: &mut String) {
        let Some(cg) = &self.callgrind else {
            return;
        };
        let _ = writeln!(s, "## Instructions per request (callgrind)\n");
        let _ = writeln!(
            s,
            "The embedded `loadgen rpc --layout shared --conns 16` (64 B echo, engine client and \
             engine server on one thread over net_ring) ran for {} s (after 0.5 s of warm-up) \
             under `valgrind --tool=callgrind`. `callgrind_annotate --inclusive=yes \
             --tree=calling` gives the inclusive instruction count of everything the loop \
             thread calls; the callees it calls only a few times (stack creation, listening, \
             connecting) are start-up and are left out, as is everything outside the thread \
             (EAL and port set-up, the coordinator). What remains is the steady-state loop: the \
             client's `ClientCore::step` and the server's step. Divided by the requests \
             answered over the whole run (callgrind also counts warm-up and drain, and so does \
             this count). Idle polls are included: they are part of what a busy-polling stack \
             costs.\n",
            self.config.callgrind_seconds
        );
        match &cg.status {
            Status::Ok => {
                let f = |v: Option<f64>| v.map_or("–".into(), group);
                let _ = writeln!(
                    s,
                    "| | instructions per request |\n|---|--:|\n| client + server | {} |\n| server alone | {} |\n| client alone (loadgen's workload included) | {} |\n",
                    f(cg.per_request_total),
                    f(cg.per_request_server),
                    f(cg.per_request_client)
                );
                let idle = if cg.iterations > 0 {
                    format!(
                        " ({:.0} % of the client's polls found nothing)",
                        100.0 * cg.idle_polls as f64 / cg.iterations as f64
                    )
                } else {
                    String::new()
                };
                let _ = writeln!(
                    s,
                    "{} requests in {} loop iterations{idle}. Valgrind runs the program about \
                     50 times slower, which changes how work batches per poll, not what a \
                     request costs. Split: {}. The loop thread's callees: {}.\n",
                    group(cg.requests as f64),
                    group(cg.iterations as f64),
                    cg.split,
                    cg.callees
                        .iter()
                        .map(|c| format!(
                            "`{}` ({}, {} calls, {} Ir)",
                            c.function,
                            c.role,
                            group(c.calls as f64),
                            group(c.inclusive_ir as f64)
                        ))
                        .collect::<Vec<_>>()
                        .join("; ")
                );
                let _ = writeln!(
                    s,
                    "Loop thread total {} Ir, start-up callees excluded {} Ir, whole program {} \
                     Ir.\n",
                    group(cg.thread_ir as f64),
                    group(cg.thread_ir.saturating_sub(cg.loop_ir) as f64),
                    group(cg.program_ir as f64)
                );
            }
            Status::Failed(e) => {
                let _ = writeln!(s, "Failed: {}\n", short(e));
            }
            Status::Skipped(e) => {
                let _ = writeln!(s, "Skipped: {}\n", short(e));
            }
            Status::Interrupted => {
                let _ = writeln!(s, "Interrupted.\n");
            }
        }
        let _ = writeln!(
            s,
            "The kernel cannot be measured the same way: callgrind counts user-space \
             instructions only, and the kernel's TCP/IP stack runs in the kernel (a kernel \
             figure would need hardware counters, e.g. `perf stat -e instructions:k`, which this \
             VM does not expose reliably).\n"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TREE: &str = "\
294,901,944 (65.49%)  >   /a/engine.rs:apps::loadgen::engine::Ctx::client_thread (1x) [/t/loadgen]

294,901,944 (65.49%)  *  /a/engine.rs:apps::loadgen::engine::Ctx::client_thread [/t/loadgen]
144,368,404 (32.06%)  >   /a/engine.rs:apps::loadgen::engine::ClientCore::step (12,865x) [/t/loadgen]
143,420,198 (31.85%)  >   /a/stack.rs:engine::stack::Stack<D>::poll_with (12,865x) [/t/loadgen]
  2,394,665 ( 0.53%)  >   /a/engine.rs:apps::loadgen::engine::Ctx::server_core (1x) [/t/loadgen]
     58,923 ( 0.01%)  >   /a/mod.rs:<apps::W<C> as apps::Workload<C>>::start (1x) [/t/loadgen]

235,921,727 (52.39%)  *  ./elf/dl.c:_dl_catch_exception'2 [/lib/libc.so.6]
";

    #[test]
    fn parses_the_loop_threads_callees() {
        let (total, c) = callees_of(TREE, "Ctx::client_thread").unwrap();
        assert_eq!(total, 294_901_944);
        assert_eq!(c.len(), 4);
        assert_eq!(
            c["apps::loadgen::engine::ClientCore::step"],
            (144_368_404, 12_865)
        );
        assert_eq!(
            c["engine::stack::Stack<D>::poll_with"],
            (143_420_198, 12_865)
        );
        assert_eq!(c["<apps::W<C> as apps::Workload<C>>::start"], (58_923, 1));
    }

    fn empty() -> Callgrind {
        let mut r = super::run_result(Vec::new());
        r.requests = 1000;
        r
    }

    #[test]
    fn splits_client_and_inlined_server() {
        let (total, c) = callees_of(TREE, "Ctx::client_thread").unwrap();
        let mut r = empty();
        split(&mut r, total, c).unwrap();
        let startup = 2_394_665 + 58_923;
        assert_eq!(r.loop_ir, total - startup);
        assert_eq!(r.client_ir, 144_368_404);
        assert_eq!(r.server_ir, Some(total - startup - 144_368_404));
        assert_eq!(r.iterations, 12_865);
        assert!((r.per_request_total.unwrap() - (total - startup) as f64 / 1000.0).abs() < 1e-6);
    }

    #[test]
    fn uses_server_core_step_when_visible() {
        let tree = TREE.replace(
            "engine::stack::Stack<D>::poll_with",
            "apps::loadgen::engine::ServerCore::step",
        );
        let (total, c) = callees_of(&tree, "Ctx::client_thread").unwrap();
        let mut r = empty();
        split(&mut r, total, c).unwrap();
        assert_eq!(r.server_ir, Some(143_420_198));
    }
}
