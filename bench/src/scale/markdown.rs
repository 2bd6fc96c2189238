//! The scale part's section of RESULTS.md: request rate and p99 by connection count, memory
//! per connection, time to open, one core to two.

use std::fmt::Write;

use super::{CONNS, ScaleCell, ScaleResults, Stack};
use crate::cells::Status;
use crate::report::{group, short};

fn rate(c: Option<&ScaleCell>) -> String {
    match c {
        Some(c) if c.status == Status::Ok => c.requests_per_sec.map_or("–".into(), group),
        Some(c) => short(&crate::status_line(&c.status)).replace('|', "\\|"),
        None => "–".into(),
    }
}

fn ok(c: Option<&ScaleCell>) -> Option<&ScaleCell> {
    c.filter(|c| c.status == Status::Ok)
}

fn p99(c: Option<&ScaleCell>) -> String {
    ok(c)
        .and_then(|c| c.p99_us)
        .map_or("–".into(), |p| format!("{p:.0} µs"))
}

fn ratio(a: Option<&ScaleCell>, b: Option<&ScaleCell>) -> String {
    match (
        ok(a).and_then(|c| c.requests_per_sec),
        ok(b).and_then(|c| c.requests_per_sec),
    ) {
        (Some(x), Some(y)) if y > 0.0 => format!("{:.1}×", x / y),
        _ => "–".into(),
    }
}

fn secs(c: Option<&ScaleCell>) -> String {
    ok(c)
        .and_then(|c| c.open_s)
        .map_or("–".into(), |s| format!("{s:.2} s"))
}

impl ScaleResults {
    fn find(&self, stack: Stack, conns: u32, cores: u8) -> Option<&ScaleCell> {
        self.cells
            .iter()
            .find(|c| c.stack == stack && c.conns == conns && c.cores == cores)
    }

    /// Appends the section to `s`.
    pub fn markdown(&self, s: &mut String) {
        let t = &self.timing;
        let _ = writeln!(s, "## Connections at scale\n");
        let _ = writeln!(
            s,
            "`bench --only scale`: `loadgen rpc` (64 B echo, one request in flight on each \
             connection; {} s after {} s of warm-up, once every connection is open) on \
             one CPU: the engine's embedded set-up (client and server stacks in one thread, \
             `--layout shared`) and Linux over loopback in a private namespace (`serve echo \
             --stack kernel`, `loadgen --stack kernel`, both under `taskset -c 0`, \
             `ip_local_port_range` 1024–65535, and more client addresses past 60,000 \
             connections). *Opened in*: from loadgen's first connect until every connection was \
             open (its `connections_open_s`).\n",
            t.duration, t.warmup
        );
        if let Some(e) = &self.setup_error {
            let _ = writeln!(s, "The kernel cells could not run: {e}.\n");
        }
        let _ = writeln!(
            s,
            "| connections | engine req/s | engine p99 | Linux req/s | Linux p99 | ratio | \
             opened in, engine / Linux |\n|--:|--:|--:|--:|--:|--:|--:|"
        );
        for &n in &CONNS {
            let (e, k) = (
                self.find(Stack::Engine, n, 1),
                self.find(Stack::Kernel, n, 1),
            );
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} / {} |",
                group(f64::from(n)),
                rate(e),
                p99(e),
                rate(k),
                p99(k),
                ratio(e, k),
                secs(e),
                secs(k)
            );
        }
        let per = |st| {
            CONNS[1..]
                .iter()
                .rev()
                .find_map(|&n| self.bytes_per_conn(st, n).map(|b| (n, b)))
                .map_or("–".into(), |(n, b)| {
                    format!("{b:.0} B at {} connections", group(f64::from(n)))
                })
        };
        let _ = writeln!(
            s,
            "\n**Memory per connection end** (at the largest count that ran): engine {} \
             (loadgen's peak resident set over the 16-connection run's, both ends being in \
             that process, over twice the count), Linux {} (slab caches and TCP buffer pages \
             grown once both ends of every connection were open, over twice the count).\n",
            per(Stack::Engine),
            per(Stack::Kernel)
        );
        let _ = writeln!(
            s,
            "| 16 connections | engine req/s | Linux req/s | ratio |\n|---|--:|--:|--:|"
        );
        for cores in [1u8, 2] {
            let (e, k) = (
                self.find(Stack::Engine, CONNS[0], cores),
                self.find(Stack::Kernel, CONNS[0], cores),
            );
            let _ = writeln!(
                s,
                "| {cores} CPU{} | {} | {} | {} |",
                if cores == 1 { "" } else { "s" },
                rate(e),
                rate(k),
                ratio(e, k)
            );
        }
        let (e1, e2) = (
            self.find(Stack::Engine, CONNS[0], 1),
            self.find(Stack::Engine, CONNS[0], 2),
        );
        let (k1, k2) = (
            self.find(Stack::Kernel, CONNS[0], 1),
            self.find(Stack::Kernel, CONNS[0], 2),
        );
        let _ = writeln!(
            s,
            "\nOne CPU to two: engine {}, Linux {} (engine: `--cores 2 --layout shared`, each \
             of two threads running a client and a server stack; Linux: `loadgen --cores 2` \
             and `serve --threads 2` under `taskset -c 0,1`).\n",
            ratio(e2, e1),
            ratio(k2, k1)
        );
    }
}
