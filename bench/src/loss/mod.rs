//! The loss part of the matrix (`bench --only loss`): goodput of one bulk connection under
//! random loss of data segments.
//!
//! - *Real link* ([`net`], [`cells`]): at each loss rate, the engine and Linux send in turn,
//!   each over its own veth pair of the same kind (MTU 1500, offloads off), into a Linux sink
//!   whose namespace drops that share of the arriving data segments with nftables. Reported:
//!   goodput, the share of the sender's own loss-free goodput it keeps, RTOs per MiB delivered,
//!   retransmitted ÷ lost segments.
//! - *Virtual time* ([`vtime`]): two engine stacks over the simulated link (1 Gbit/s, 1 ms
//!   RTT by default: `--vt-rtt-us`), 16 MiB at each loss rate for a few seeds, each run twice in two processes; beside
//!   the Mathis bound of Reno and of CUBIC ([`report`]).
//!
//! The acceptance of the issue is evaluated from both ([`report::targets`]). Set-up failures of
//! the real link (a missing tool, a namespace that cannot be made) are reported in the section
//! and leave the virtual-time cells to run.

pub mod cells;
mod markdown;
pub mod net;
pub mod report;
pub mod vtime;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::cells::Timing;
use crate::cells::{Bins, Status};
use crate::child;
use cells::{Env, LinkCell, VtCell, VtRunner};
use net::{LossPair, Sender};

/// Bytes of each virtual-time transfer.
pub const VT_BYTES: usize = 16 << 20;
/// The simulated link's rate (the default of `bench vtime`).
pub const VT_RATE_MBPS: u64 = 1000;

/// What the command line asks of the loss part.
#[derive(Clone, Debug)]
pub struct LossArgs {
    pub rates_pct: Vec<f64>,
    pub linux_cc: String,
    pub seeds: Vec<u64>,
    /// The simulated link's round trip, µs.
    pub rtt_us: u64,
    pub timing: Timing,
}

/// How the loss part ran.
#[derive(Serialize, Clone, Debug)]
pub struct LossConfig {
    pub loss_rates_pct: Vec<f64>,
    pub timing: Timing,
    /// The congestion control of the engine (its default, `TcpConfig::default()`).
    pub engine_cc: String,
    /// Linux's, set per socket by loadgen, and the sender namespace's default.
    pub linux_cc: String,
    pub linux_default_cc: Option<String>,
    pub sender_cpu: usize,
    pub receiver_cpu: usize,
    /// The nftables rule, with N for the per-mille drop rate.
    pub nft_rule: String,
    /// Sysctls of the Linux sender's namespace that shape its behaviour under loss.
    pub linux_sysctls: BTreeMap<String, String>,
    pub vt_seeds: Vec<u64>,
    pub vt_bytes: usize,
    pub vt_rate_mbps: u64,
    pub vt_rtt_us: u64,
}

/// Everything the loss part produced.
#[derive(Serialize, Clone, Debug)]
pub struct LossResults {
    pub config: LossConfig,
    /// Why the real-link cells could not run, if they could not.
    pub setup_error: Option<String>,
    pub link: Vec<LinkCell>,
    pub vtime: Vec<VtCell>,
    pub targets: Vec<report::LossTarget>,
}

/// A loss rate as part of a cell id: 0.1 → "0p1pct".
pub fn pct_key(p: f64) -> String {
    format!("{p}pct").replace('.', "p")
}

/// Checks `--loss-rates`: percentages in 0.1 % steps below 100.
pub fn check_rates(rates: &[f64]) -> Result<(), String> {
    for &p in rates {
        let m = p * 10.0;
        if !(0.0..1000.0).contains(&m) || (m - m.round()).abs() > 1e-9 {
            return Err(format!(
                "--loss-rates {p}: give percentages below 100 in steps of 0.1 \
                 (nftables draws per mille)"
            ));
        }
    }
    Ok(())
}

/// The engine's congestion control, as Linux spells it.
pub fn engine_cc() -> String {
    use engine::tcp::congestion::{Congestion, CongestionControl};
    let kind = engine::tcp::TcpConfig::default().congestion;
    Congestion::new(kind, 1448).name().to_string()
}

/// Steps the loss part will report (for the progress counter).
pub fn steps(a: &LossArgs) -> usize {
    a.rates_pct.len() * (2 + a.seeds.len())
}

/// Creates both pairs, after checking the tools and Linux's congestion control.
fn set_up(a: &LossArgs, bins: &Bins, logs: &Path) -> Result<(LossPair, LossPair), String> {
    net::check_tools()?;
    let avail = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_available_congestion_control")
        .unwrap_or_default();
    if !avail.split_whitespace().any(|c| c == a.linux_cc) {
        return Err(format!(
            "--linux-cc {}: Linux has no such congestion control here (available: {})",
            a.linux_cc,
            avail.trim()
        ));
    }
    let e = LossPair::create(Sender::Engine, &bins.bench, logs)?;
    let l = LossPair::create(Sender::Linux, &bins.bench, logs)?;
    Ok((e, l))
}

fn config(a: &LossArgs, ncpu: usize, linux: Option<&LossPair>) -> LossConfig {
    let mut sysctls = BTreeMap::new();
    let mut default_cc = None;
    if let Some(p) = linux {
        for k in [
            "net.ipv4.tcp_timestamps",
            "net.ipv4.tcp_sack",
            "net.ipv4.tcp_recovery",
            "net.ipv4.tcp_early_retrans",
            "net.ipv4.tcp_frto",
        ] {
            if let Some(v) = p.sender.sysctl_get(k) {
                sysctls.insert(k.to_string(), v);
            }
        }
        default_cc = p.sender.sysctl_get("net.ipv4.tcp_congestion_control");
    }
    LossConfig {
        loss_rates_pct: a.rates_pct.clone(),
        timing: a.timing,
        engine_cc: engine_cc(),
        linux_cc: a.linux_cc.clone(),
        linux_default_cc: default_cc,
        sender_cpu: 0,
        receiver_cpu: if ncpu >= 2 { 1 } else { 0 },
        nft_rule: format!(
            "ip protocol tcp tcp dport {} ip length > 80 numgen random mod 1000 < N drop \
             (input hook, priority raw, receiver's namespace)",
            net::SINK_PORT
        ),
        linux_sysctls: sysctls,
        vt_seeds: a.seeds.clone(),
        vt_bytes: VT_BYTES,
        vt_rate_mbps: VT_RATE_MBPS,
        vt_rtt_us: a.rtt_us,
    }
}

/// A progress line: what, the result, wall seconds.
pub type Progress<'a> = &'a mut dyn FnMut(&str, &str, f64);

fn link_line(c: &LinkCell) -> String {
    match (&c.status, c.goodput_mbps) {
        (Status::Ok, Some(g)) => format!(
            "{g:.1} Mbit/s, {} RTOs, {} retransmitted / {} lost segments",
            c.rtos.unwrap_or(0),
            c.retrans_segs.unwrap_or(0),
            c.nft.as_ref().map_or(0, |n| n.dropped_segs)
        ),
        (st, _) => crate::status_line(st),
    }
}

fn vt_line(c: &VtCell) -> String {
    match (&c.status, &c.outcome) {
        (Status::Ok, Some(o)) => format!(
            "{:.1} Mbit/s, {} RTOs, {}, {}",
            o.goodput_mbps,
            o.rtos,
            if o.intact { "intact" } else { "NOT intact" },
            match c.same_outcome {
                Some(true) => "same outcome twice",
                Some(false) => "DIFFERENT outcomes",
                None => "–",
            }
        ),
        (st, _) => crate::status_line(st),
    }
}

/// Runs the loss part.
pub fn run(a: &LossArgs, bins: &Bins, logs: &Path, ncpu: usize, progress: Progress) -> LossResults {
    let pairs = set_up(a, bins, logs);
    let cfg = config(a, ncpu, pairs.as_ref().ok().map(|p| &p.1));
    let mut res = LossResults {
        setup_error: pairs.as_ref().err().cloned(),
        config: cfg,
        link: Vec::new(),
        vtime: Vec::new(),
        targets: Vec::new(),
    };
    let env = pairs.ok().map(|(engine, linux)| Env {
        bins: bins.clone(),
        logs: logs.to_path_buf(),
        timing: a.timing,
        linux_cc: a.linux_cc.clone(),
        engine,
        linux,
        sender_cpu: res.config.sender_cpu,
        receiver_cpu: res.config.receiver_cpu,
        ncpu,
    });
    if let Some(e) = &res.setup_error {
        eprintln!("bench: loss: the real-link cells cannot run: {e}");
    }
    // The two senders alternate at each rate, so that drifting noise falls on both alike.
    'link: for &p in &a.rates_pct {
        for s in [Sender::Engine, Sender::Linux] {
            if child::interrupted() {
                break 'link;
            }
            let what = format!("loss {p} %, {} sender, real link", s.key());
            match &env {
                Some(env) => {
                    let c = env.run_link(s, p);
                    progress(&what, &link_line(&c), c.wall_s);
                    res.link.push(c);
                }
                None => progress(&what, "not run (set-up failed)", 0.0),
            }
        }
    }
    drop(env); // removes the namespaces
    let vt_env = VtRunner {
        bench: bins.bench.clone(),
        logs: logs.to_path_buf(),
        cpu: res.config.receiver_cpu,
        rtt_us: a.rtt_us,
    };
    'vt: for &p in &a.rates_pct {
        for &seed in &a.seeds {
            if child::interrupted() {
                break 'vt;
            }
            let c = vt_env.run_vtime(p, seed, VT_BYTES);
            progress(
                &format!("loss {p} %, seed {seed}, virtual time"),
                &vt_line(&c),
                c.wall_s,
            );
            res.vtime.push(c);
        }
    }
    res.targets = report::targets(&res);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_rates_come_in_tenths_of_a_percent() {
        assert!(check_rates(&[0.0, 0.1, 1.0, 2.0, 5.0, 99.9]).is_ok());
        for bad in [0.05, -1.0, 100.0, 1.25] {
            assert!(check_rates(&[bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn cell_ids_spell_the_rate() {
        assert_eq!(pct_key(0.1), "0p1pct");
        assert_eq!(pct_key(5.0), "5pct");
    }
}
