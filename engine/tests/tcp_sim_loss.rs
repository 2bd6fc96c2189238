//! Loss recovery in virtual time (issue 9): one bulk connection of 16 MiB over the simulated
//! 1 Gbit/s link (1 ms each way) with random loss on both directions and nothing else, per
//! seed:
//! - every byte arrives intact (the stream checks it) and no RTO fires: SACK, RACK, PRR and
//!   tail loss probes repair every loss;
//! - the goodput is at or above the Mathis bound, `MSS/RTT · sqrt(3/2) / sqrt(p)` (Mathis et
//!   al. 1997), the steady state a window-halving sender reaches at loss rate `p`. It is the
//!   bound of both algorithms here: NewReno, and CUBIC (the default), whose Reno-friendly
//!   region (RFC 9438 §4.3, the regime of a 2 ms RTT) has the same AIMD response
//!   `sqrt(α(1+β)/(2(1−β)p))` with α = 3(1−β)/(1+β) (RFC 9438 §5.1);
//! - the same seed gives the same outcome.
//!
//! The figures are virtual time, so they are the same on any machine; `bench --only loss`
//! prints them beside Linux's.

mod sim;

use std::time::Duration;

use engine::dev::fault::FaultConfig;
use engine::tcp::congestion::CcKind;
use sim::{Pair, PairConfig, Side, Stream};

const BULK: usize = 16 << 20;

/// One run: goodput (Mbit/s), RTOs, retransmissions, data segments the link dropped, SACK
/// recoveries, loss probes, and reordering the sender saw in SACK blocks.
#[derive(Debug, PartialEq)]
struct Run {
    elapsed: Duration,
    goodput_mbps: u64,
    rtos: u64,
    retrans: u64,
    dropped: u64,
    sack_recoveries: u64,
    loss_probes: u64,
    reorder: u64,
}

fn run(name: &str, cc: CcKind, loss: f64, seed: u64) -> Run {
    let mut cfg = PairConfig::new(name).tcp(|t| t.congestion = cc);
    for (f, s) in [
        (&mut cfg.fault_a, 2 * seed + 1),
        (&mut cfg.fault_b, 2 * seed + 2),
    ] {
        *f = FaultConfig {
            seed: s,
            drop: loss,
            ..FaultConfig::default()
        };
    }
    let mut p = Pair::new(cfg);
    let (a, b) = p.connect(80, None, None);
    let start = p.now;
    let mut st = [Stream::new(Side::A, a, b, BULK, seed).with_shutdown()];
    let end = p.transfer(&mut st, Duration::from_secs(600));
    p.close_both(a, b, Duration::from_secs(600));
    let o = p.outcome(start, end, BULK as u64);
    let r = Run {
        elapsed: o.elapsed,
        goodput_mbps: o.goodput_mbps() as u64,
        rtos: o.timeouts(),
        retrans: o.a.tcp.retrans_segs,
        dropped: o.fault_a.dropped,
        sack_recoveries: o.a.tcp.sack_recovery,
        loss_probes: o.a.tcp.loss_probes,
        reorder: o.a.tcp.sack_reorder,
    };
    eprintln!("{cc:?} loss {:.1} % seed {seed}: {r:?}", loss * 100.0);
    r
}

/// The Mathis bound for NewReno in Mbit/s: MSS 1448 (1500 less headers and timestamps), RTT
/// 2 ms.
fn mathis_mbps(p: f64) -> f64 {
    let (mss, rtt) = (1448.0 * 8.0, 0.002);
    mss / rtt * (1.5f64).sqrt() / p.sqrt() / 1e6
}

/// The must-show of issue 9, for one algorithm.
fn meets_the_mathis_bound(tag: &str, cc: CcKind) {
    for seed in [1, 2] {
        let r = run(&format!("{tag}s{seed}"), cc, 0.01, seed);
        assert_eq!(r.rtos, 0, "no RTO");
        assert_eq!(r.reorder, 0, "no reordering on this link, none seen");
        assert!(
            r.sack_recoveries > 0,
            "losses were repaired by SACK recovery"
        );
        assert!(
            r.goodput_mbps as f64 >= mathis_mbps(0.01),
            "{} Mbit/s, Mathis bound {:.0}",
            r.goodput_mbps,
            mathis_mbps(0.01)
        );
    }
    let again = run(&format!("{tag}s1b"), cc, 0.01, 1);
    assert_eq!(
        again,
        run(&format!("{tag}s1c"), cc, 0.01, 1),
        "same seed, same outcome"
    );
}

#[test]
fn one_percent_random_loss_cubic_meets_the_mathis_bound_without_an_rto() {
    meets_the_mathis_bound("lc", CcKind::Cubic);
}

#[test]
fn one_percent_random_loss_newreno_meets_the_mathis_bound_without_an_rto() {
    meets_the_mathis_bound("lr", CcKind::NewReno);
}
