//! What `loadgen` prints: a progress line each second (stderr), the summary table at the end
//! (stdout), and the JSON report (`--json FILE`).
//!
//! JSON fields: `mode`, `stack`, `setup`, `target`, `embedded`, `cores`, `conns`, `pipeline`,
//! `proto` (echo or http), `path` (http), `req_size` (bytes of one request as sent: the
//! HTTP request's own length with `--proto http`), `resp_size` (echo; `null` for http, whose
//! responses are framed by Content-Length), `rate`, `arrivals`, `direction`, `close`,
//! `connections_asked`, `connections_opened` (the most open at once),
//! `connections_open_s` (seconds from the first connect until all asked for were open;
//! `null` if never), `failure` (why the run did not do what was asked, `null` when it did; the
//! exit status is then non-zero), `duration_s`,
//! `warmup_s`, `requests`, `requests_per_sec`, `bytes_per_sec` (payload sent + received),
//! `tx_bytes_per_sec`, `rx_bytes_per_sec`, `gbps` (the direction asked for; tx + rx for
//! `both`, rpc, rate and churn), `connections`, `connections_per_sec`, `errors`,
//! `errors_by_kind` {refused, reset, timed_out, no_ports, other}, `latency_us` {p50, p90, p99,
//! p999, p9999, max, mean, samples}, `totals` (whole run: requests_sent, responses,
//! bytes_sent, bytes_received, connects, connections_done, unfinished, polls, idle_polls),
//! `engine_counters`
//! (the client engine's, summed over cores) and `server` (embedded runs: `stats`, the server's
//! `counters`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use engine::Counters;
use serde::Serialize;

use super::args::{Arrivals, CloseKind, StackKind};
use super::net::ErrKind;
use super::proto::{self, Proto};
use super::run::{Outcome, Plan};
use super::workload::stream::Direction;

/// One progress line from two snapshots of the running totals.
pub fn progress_line(
    elapsed: Duration,
    dt: Duration,
    last: &[u64; 6],
    cur: &[u64; 6],
    label: &str,
) -> String {
    let s = dt.as_secs_f64().max(1e-9);
    let d = |i: usize| cur[i].saturating_sub(last[i]) as f64 / s;
    let gbps = (d(1) + d(2)) * 8.0 / 1e9;
    format!(
        "[{:>4.0}s] {:>12} req/s {:>10} conn/s {:>8.3} Gbit/s  errors {:<6} open {:<6} {label}",
        elapsed.as_secs_f64(),
        group(d(0) as u64),
        group(d(3) as u64),
        gbps,
        cur[4],
        cur[5],
    )
}

/// 1234567 → "1,234,567".
pub fn group(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[derive(Serialize, Debug, Clone)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub p9999: f64,
    pub max: f64,
    pub mean: f64,
    pub samples: u64,
}

#[derive(Serialize, Debug, Clone)]
pub struct TotalsJson {
    pub requests_sent: u64,
    pub responses: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub connects: u64,
    pub connections_done: u64,
    pub unfinished: u64,
    pub polls: u64,
    pub idle_polls: u64,
}

#[derive(Serialize, Debug, Clone)]
pub struct ServerJson {
    pub stats: BTreeMap<&'static str, u64>,
    pub counters: Option<BTreeMap<&'static str, u64>>,
}

/// The JSON report.
#[derive(Serialize, Debug, Clone)]
pub struct Report {
    pub mode: &'static str,
    pub stack: StackKind,
    /// The client asked for ECN (`--ecn`).
    pub ecn: bool,
    pub setup: String,
    pub target: String,
    pub embedded: bool,
    pub cores: usize,
    pub conns: usize,
    pub pipeline: usize,
    pub proto: Option<Proto>,
    pub path: Option<String>,
    pub req_size: usize,
    pub resp_size: Option<usize>,
    pub rate: Option<f64>,
    pub arrivals: Option<Arrivals>,
    pub direction: Option<Direction>,
    pub close: Option<CloseKind>,
    pub connections_asked: u64,
    pub connections_opened: u64,
    pub connections_open_s: Option<f64>,
    pub failure: Option<String>,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub requests: u64,
    pub requests_per_sec: f64,
    pub bytes_per_sec: f64,
    pub tx_bytes_per_sec: f64,
    pub rx_bytes_per_sec: f64,
    pub gbps: f64,
    pub connections: u64,
    pub connections_per_sec: f64,
    pub errors: u64,
    pub errors_by_kind: BTreeMap<&'static str, u64>,
    pub latency_us: Latency,
    pub totals: TotalsJson,
    pub engine_counters: Option<BTreeMap<&'static str, u64>>,
    pub server: Option<ServerJson>,
}

fn counters_map(c: &Counters) -> BTreeMap<&'static str, u64> {
    c.entries().into_iter().collect()
}

impl Report {
    pub fn new(plan: &Plan, o: &Outcome) -> Report {
        let st = &o.stats;
        let secs = o.measured.as_secs_f64();
        let per = |v: u64| if secs > 0.0 { v as f64 / secs } else { 0.0 };
        let h = &st.hist;
        let q = |x: f64| h.value_at_quantile(x) as f64 / 1e3;
        let latency = Latency {
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            p9999: q(0.9999),
            max: h.max() as f64 / 1e3,
            mean: if h.is_empty() { 0.0 } else { h.mean() / 1e3 },
            samples: h.len(),
        };
        let (tx, rx) = (per(st.bytes_tx), per(st.bytes_rx));
        let gbps = match plan.direction {
            Some(Direction::Tx) => tx,
            Some(Direction::Rx) => rx,
            _ => tx + rx,
        } * 8.0
            / 1e9;
        let t = &st.total;
        let stream = plan.mode == "stream";
        let http = !stream && plan.proto == Proto::Http;
        let req_size = if stream {
            plan.write_size
        } else {
            proto::request(plan.proto, plan.req_size, &o.target, &plan.path).len()
        };
        let mut r = Report {
            mode: plan.mode,
            stack: plan.common.stack,
            ecn: plan.common.ecn,
            setup: o.setup.clone(),
            target: o.target.clone(),
            embedded: o.embedded,
            cores: plan.cores,
            conns: plan.conns,
            pipeline: plan.pipeline,
            proto: (!stream).then_some(plan.proto),
            path: http.then(|| plan.path.clone()),
            req_size,
            resp_size: (!stream && !http).then_some(plan.resp_size),
            rate: plan.rate,
            arrivals: plan.arrivals,
            direction: plan.direction,
            close: plan.close,
            connections_asked: st.asked,
            connections_opened: st.peak_open,
            connections_open_s: st.all_open_ns.map(|ns| ns as f64 / 1e9),
            failure: None,
            duration_s: secs,
            warmup_s: plan.common.warmup,
            requests: st.requests,
            requests_per_sec: per(st.requests),
            bytes_per_sec: tx + rx,
            tx_bytes_per_sec: tx,
            rx_bytes_per_sec: rx,
            gbps,
            connections: st.connections,
            connections_per_sec: per(st.connections),
            errors: st.errors.total(),
            errors_by_kind: ErrKind::ALL
                .iter()
                .map(|k| (k.name(), st.errors.get(*k)))
                .collect(),
            latency_us: latency,
            totals: TotalsJson {
                requests_sent: t.requests_sent,
                responses: t.responses,
                bytes_sent: t.bytes_sent,
                bytes_received: t.bytes_received,
                connects: t.connects,
                connections_done: t.connections_done,
                unfinished: t.unfinished,
                polls: t.polls,
                idle_polls: t.idle_polls,
            },
            engine_counters: o.client_counters.as_ref().map(counters_map),
            server: o.server.as_ref().map(|s| ServerJson {
                stats: [
                    ("accepted", s.stats.accepted),
                    ("closed", s.stats.closed),
                    ("bytes_in", s.stats.bytes_in),
                    ("bytes_out", s.stats.bytes_out),
                    ("requests", s.stats.requests),
                    ("errors", s.stats.errors),
                ]
                .into_iter()
                .collect(),
                counters: s.counters.as_ref().map(counters_map),
            }),
        };
        r.failure = r.judge();
        r
    }

    /// Why the run did not do what was asked, in one line, or `None` when it did: no
    /// connection opened (every one refused, or the target unreachable), fewer open at once
    /// than asked, or no request answered (no byte moved, for `stream`).
    pub fn judge(&self) -> Option<String> {
        let t = &self.totals;
        let refused = self.errors_by_kind.get("refused").copied().unwrap_or(0);
        if t.connects == 0 {
            return Some(if refused > 0 && refused == self.errors {
                format!(
                    "the target {} refused every connection ({refused} refused): nothing \
                     listens there",
                    self.target
                )
            } else {
                format!(
                    "no connection to {} opened ({} errors: {}): the target is unreachable \
                     or does not answer",
                    self.target,
                    self.errors,
                    self.error_kinds()
                )
            });
        }
        if self.mode != "churn" && self.connections_opened < self.connections_asked {
            return Some(format!(
                "only {} of the {} connections asked for were open at once ({} errors: {})",
                self.connections_opened,
                self.connections_asked,
                self.errors,
                self.error_kinds()
            ));
        }
        let moved = match self.mode {
            "stream" => t.bytes_sent + t.bytes_received > 0,
            _ => t.responses > 0,
        };
        (!moved).then(|| {
            format!(
                "connections opened but nothing was answered by {}",
                self.target
            )
        })
    }

    /// Errors by kind, the non-zero ones: `refused 3, timed_out 1`, or `none`.
    fn error_kinds(&self) -> String {
        let v: Vec<String> = self
            .errors_by_kind
            .iter()
            .filter(|(_, v)| **v > 0)
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        if v.is_empty() {
            "none".into()
        } else {
            v.join(", ")
        }
    }

    /// What one exchange is: `64 B requests, 64 B responses` (echo), or `HTTP GET /
    /// (85 B requests), responses by Content-Length` (http).
    fn exchange(&self) -> String {
        match (self.proto, &self.path) {
            (Some(Proto::Http), Some(path)) => format!(
                "HTTP GET {path} ({} B requests), responses framed by Content-Length",
                self.req_size
            ),
            _ => format!(
                "{} B requests, {} B responses",
                self.req_size,
                self.resp_size.unwrap_or(0)
            ),
        }
    }

    /// The summary table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let shape = match self.mode {
            "stream" => format!(
                "{} conn(s), {:?}, {} B writes",
                self.conns,
                self.direction.unwrap_or(Direction::Tx),
                self.req_size
            ),
            "churn" => format!(
                "{} slots, {}, close {:?}",
                self.conns,
                self.exchange(),
                self.close.unwrap_or(CloseKind::Fin)
            ),
            _ => format!(
                "{} conns x pipeline {}, {}{}",
                self.conns,
                self.pipeline,
                self.exchange(),
                self.rate
                    .map(|r| format!(
                        ", {} req/s {:?}",
                        group(r as u64),
                        self.arrivals.unwrap_or(Arrivals::Poisson)
                    ))
                    .unwrap_or_default()
            ),
        };
        let _ = writeln!(s, "loadgen {} over {:?}: {shape}", self.mode, self.stack);
        let _ = writeln!(s, "  {}", self.setup);
        let _ = writeln!(
            s,
            "  target {}, {} client core(s), {:.2} s measured after {:.1} s warm-up",
            self.target, self.cores, self.duration_s, self.warmup_s
        );
        let _ = writeln!(s);
        let _ = writeln!(s, "  {:<14} {:>16} {:>18}", "", "total", "per second");
        let row = |s: &mut String, name: &str, v: u64, r: f64| {
            let _ = writeln!(s, "  {:<14} {:>16} {:>18}", name, group(v), group(r as u64));
        };
        row(&mut s, "requests", self.requests, self.requests_per_sec);
        row(
            &mut s,
            "connections",
            self.connections,
            self.connections_per_sec,
        );
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "  connections: {} asked for, {} open at once{}, {} opened in all",
            group(self.connections_asked),
            group(self.connections_opened),
            self.connections_open_s
                .map(|t| format!(" (all open {t:.3} s after the first connect)"))
                .unwrap_or_default(),
            group(self.totals.connects),
        );
        let _ = writeln!(
            s,
            "  {:<14} {:>16} {:>18}",
            "throughput",
            format!("{:.3} Gbit/s", self.gbps),
            format!(
                "tx {:.3} rx {:.3}",
                self.tx_bytes_per_sec * 8.0 / 1e9,
                self.rx_bytes_per_sec * 8.0 / 1e9
            )
        );
        let l = &self.latency_us;
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "  latency (us)  {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "p50", "p90", "p99", "p99.9", "p99.99", "max", "mean"
        );
        let _ = writeln!(
            s,
            "  {:<13} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            "", l.p50, l.p90, l.p99, l.p999, l.p9999, l.max, l.mean
        );
        let _ = writeln!(s);
        let kinds: Vec<String> = self
            .errors_by_kind
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = writeln!(s, "  errors {} ({})", self.errors, kinds.join(", "));
        let t = &self.totals;
        let _ = writeln!(
            s,
            "  whole run: {} requests sent, {} responses, {} B sent, {} B received, {} connects, {} unfinished",
            group(t.requests_sent),
            group(t.responses),
            group(t.bytes_sent),
            group(t.bytes_received),
            group(t.connects),
            t.unfinished
        );
        let _ = writeln!(
            s,
            "  client loop: {} polls, {} idle ({:.1} %)",
            group(t.polls),
            group(t.idle_polls),
            100.0 * t.idle_polls as f64 / t.polls.max(1) as f64
        );
        if let Some(srv) = &self.server {
            let st: Vec<String> = srv.stats.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = writeln!(s, "  server: {}", st.join(", "));
        }
        s
    }
}

/// Counters as `Name value` lines (non-zero only), indented, for the end of the table.
pub fn counters_block(title: &str, c: &BTreeMap<&'static str, u64>) -> String {
    let mut s = format!("{title}\n");
    for (k, v) in c {
        if *v != 0 {
            let _ = writeln!(s, "  {k:<30} {v}");
        }
    }
    s
}
