//! The loss section of RESULTS.md: the acceptance of the issue (met or not), the real-link
//! table (engine beside Linux), the virtual-time table beside the Mathis bounds, and every
//! loss cell's raw figures.
//!
//! Mathis bounds (goodput of one connection in congestion avoidance under random loss `p`,
//! round trip `RTT`, segment payload `MSS`):
//! - Reno (Mathis et al. 1997): `MSS/RTT · C/√p` with `C = √(3/2)`;
//! - CUBIC (RFC 9438 §5.1 and RFC 8312 §5.1): the average window is the larger of the cubic
//!   region's `(C·(3+β)/(4·(1−β)))^¼ · RTT^¾ / p^¾` segments (C = 0.4, β = 0.7, RTT in
//!   seconds) and the Reno-friendly region's `√(3/(2p))` (AIMD with α = 3(1−β)/(1+β), which
//!   has Reno's average window); goodput is that window × MSS / RTT.
//!
//! Both are capped at the link's payload rate. The RTT is the link's propagation round trip
//! (queueing adds to it, so the bound with the measured RTT would be lower, not higher).

use serde::Serialize;

use super::LossResults;
use super::cells::{LinkCell, VtCell};
use super::net::Sender;
use crate::cells::Status;

/// One acceptance line.
#[derive(Serialize, Clone, Debug)]
pub struct LossTarget {
    pub name: String,
    pub required: String,
    pub measured: String,
    pub met: Option<bool>,
}

const CUBIC_C: f64 = 0.4;
const CUBIC_BETA: f64 = 0.7;

/// Payload bits per second the link carries at `rate_mbps` with full segments (Ethernet,
/// IPv4, TCP with timestamps: 1448 of every 1538 bytes on the wire, preamble and gap
/// included).
fn link_payload_mbps(rate_mbps: u64, mss: f64) -> f64 {
    rate_mbps as f64 * mss / (mss + 52.0 + 14.0 + 4.0 + 20.0)
}

/// Reno's Mathis bound in Mbit/s (uncapped).
pub fn reno_mbps(mss: f64, rtt_s: f64, p: f64) -> f64 {
    mss * 8.0 / rtt_s * (1.5 / p).sqrt() / 1e6
}

/// CUBIC's response function in Mbit/s (uncapped): the larger of the cubic and the
/// Reno-friendly regions.
pub fn cubic_mbps(mss: f64, rtt_s: f64, p: f64) -> f64 {
    let k = (CUBIC_C * (3.0 + CUBIC_BETA) / (4.0 * (1.0 - CUBIC_BETA))).powf(0.25);
    let w_cubic = k * (rtt_s / p).powf(0.75);
    let w_reno = (1.5 / p).sqrt();
    w_cubic.max(w_reno) * mss * 8.0 / rtt_s / 1e6
}

/// The bounds (Reno, CUBIC) of the virtual-time link at loss `pct`, capped at the link.
pub fn bounds(res: &LossResults, pct: f64, mss: f64) -> Option<(f64, f64)> {
    if pct <= 0.0 {
        return None;
    }
    let c = &res.config;
    let (rtt, p) = (c.vt_rtt_us as f64 / 1e6, pct / 100.0);
    let cap = link_payload_mbps(c.vt_rate_mbps, mss);
    Some((
        reno_mbps(mss, rtt, p).min(cap),
        cubic_mbps(mss, rtt, p).min(cap),
    ))
}

/// The bound of the algorithm in use (CUBIC's if its name says cubic, else Reno's).
fn bound_in_use(res: &LossResults, pct: f64, mss: f64) -> Option<f64> {
    let (r, c) = bounds(res, pct, mss)?;
    Some(if res.config.engine_cc.contains("cubic") {
        c
    } else {
        r
    })
}

impl LossResults {
    pub(crate) fn link(&self, s: Sender, pct: f64) -> Option<&LinkCell> {
        self.link
            .iter()
            .find(|c| c.sender == s && c.loss_pct == pct && c.status == Status::Ok)
    }

    /// Goodput at `pct` ÷ the same sender's goodput at 0 %.
    pub(crate) fn kept(&self, s: Sender, pct: f64) -> Option<f64> {
        let g = self.link(s, pct)?.goodput_mbps?;
        let g0 = self.link(s, 0.0)?.goodput_mbps?;
        (g0 > 0.0).then(|| g / g0)
    }

    fn vt(&self, pct: f64) -> Vec<&VtCell> {
        self.vtime.iter().filter(|c| c.loss_pct == pct).collect()
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |x| format!("{x:.digits$}"))
}

/// The acceptance of the issue, from the cells.
pub fn targets(r: &LossResults) -> Vec<LossTarget> {
    let mut t = Vec::new();
    for pct in [1.0, 5.0] {
        let (e, l) = (r.kept(Sender::Engine, pct), r.kept(Sender::Linux, pct));
        t.push(LossTarget {
            name: format!(
                "real link, {pct} % loss: share of its loss-free goodput kept, engine ≥ Linux"
            ),
            required: "engine ≥ Linux".into(),
            measured: format!("engine {}, Linux {}", opt(e, 3), opt(l, 3)),
            met: e.zip(l).map(|(e, l)| e >= l),
        });
    }
    for pct in [1.0, 5.0] {
        let f = |s| r.link(s, pct).and_then(LinkCell::rtos_per_mib);
        let (e, l) = (f(Sender::Engine), f(Sender::Linux));
        t.push(LossTarget {
            name: format!("real link, {pct} % loss: RTOs per MiB delivered, engine ≤ Linux"),
            required: "engine ≤ Linux".into(),
            measured: format!("engine {}, Linux {}", opt(e, 4), opt(l, 4)),
            met: e.zip(l).map(|(e, l)| e <= l),
        });
    }
    t.extend(vt_targets(r, 1.0));
    t
}

/// The virtual-time acceptance at `pct`: every seed at or above the bound, no RTO, intact,
/// the same outcome twice.
fn vt_targets(r: &LossResults, pct: f64) -> Vec<LossTarget> {
    let cells = r.vt(pct);
    let outs: Vec<_> = cells.iter().filter_map(|c| c.outcome.as_ref()).collect();
    let all = |ok: &dyn Fn(&VtCell) -> Option<bool>| -> Option<bool> {
        let v: Vec<Option<bool>> = cells.iter().map(|c| ok(c)).collect();
        (!v.is_empty() && v.iter().all(Option::is_some)).then(|| v.iter().all(|x| *x == Some(true)))
    };
    let mss = outs.first().map_or(1448.0, |o| f64::from(o.mss));
    let bound = bound_in_use(r, pct, mss);
    let n = cells.len();
    let count = |f: &dyn Fn(&VtCell) -> bool| cells.iter().filter(|c| f(c)).count();
    let goodputs: Vec<String> = outs
        .iter()
        .map(|o| format!("{:.1}", o.goodput_mbps))
        .collect();
    let cc = &r.config.engine_cc;
    vec![
        LossTarget {
            name: format!(
                "virtual time, {pct} % loss: goodput ≥ the Mathis bound of {cc} ({} Mbit/s), \
                 every seed",
                opt(bound, 1)
            ),
            required: "≥ bound".into(),
            measured: format!("{} Mbit/s", goodputs.join(" / ")),
            met: all(&|c| Some(c.outcome.as_ref()?.goodput_mbps >= bound?)),
        },
        LossTarget {
            name: format!("virtual time, {pct} % loss: no RTO"),
            required: "0".into(),
            measured: outs
                .iter()
                .map(|o| o.rtos.to_string())
                .collect::<Vec<_>>()
                .join(" / "),
            met: all(&|c| Some(c.outcome.as_ref()?.rtos == 0)),
        },
        LossTarget {
            name: format!("virtual time, {pct} % loss: 16 MiB intact, every seed"),
            required: "every seed".into(),
            measured: format!(
                "{} of {n}",
                count(&|c| c.outcome.as_ref().is_some_and(|o| o.intact))
            ),
            met: all(&|c| Some(c.outcome.as_ref()?.intact)),
        },
        LossTarget {
            name: format!("virtual time, {pct} % loss: the same outcome per seed (two runs)"),
            required: "every seed".into(),
            measured: format!("{} of {n}", count(&|c| c.same_outcome == Some(true))),
            met: all(&|c| c.same_outcome),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reno_bound_at_one_percent_and_one_ms() {
        // 1448 B · 8 / 1 ms · √(3/2) / √0.01 = 11.584 Mbit/s · 12.247 ≈ 141.9 Mbit/s.
        let b = reno_mbps(1448.0, 0.001, 0.01);
        assert!((b - 141.87).abs() < 0.05, "{b}");
        // Four times the loss, half the bound.
        assert!((reno_mbps(1448.0, 0.001, 0.04) * 2.0 - b).abs() < 1e-9);
    }

    #[test]
    fn cubic_is_reno_friendly_at_short_rtts_and_above_reno_at_long_ones() {
        let (mss, p) = (1448.0, 0.01);
        assert!((cubic_mbps(mss, 0.001, p) - reno_mbps(mss, 0.001, p)).abs() < 1e-9);
        // 100 ms, p = 1e-6: cubic window 1.054 · (0.1 / 1e-6)^¾ ≈ 5926 segments, Reno's 1225.
        let (c, r) = (cubic_mbps(mss, 0.1, 1e-6), reno_mbps(mss, 0.1, 1e-6));
        assert!((c / r - 5926.0 / 1224.7).abs() < 0.01, "{c} {r}");
    }

    #[test]
    fn the_link_caps_the_bound() {
        let cap = link_payload_mbps(1000, 1448.0);
        assert!((cap - 941.5).abs() < 0.1, "{cap}");
    }
}
