//! Congestion control between two stacks in virtual time: the algorithm is chosen per
//! connection (its options, else the stack's default, CUBIC), and CUBIC's HyStart++ (RFC 9406)
//! leaves slow start on the rise of the RTT, from the timestamp echoes, before the bottleneck
//! queue overflows, where classic slow start (NewReno) runs into it. The harness is
//! `sim/mod.rs`.

mod sim;

use std::time::Duration;

use engine::tcp::ConnOptions;
use engine::tcp::congestion::CcKind;
use sim::{Pair, PairConfig, Side, Stream};

fn with_cc(kind: CcKind) -> ConnOptions {
    ConnOptions {
        congestion: Some(kind),
        ..ConnOptions::default()
    }
}

#[test]
fn the_algorithm_is_chosen_per_connection() {
    // Default stacks: CUBIC, unless the connection asks for NewReno.
    {
        let mut p = Pair::new(PairConfig::new("ccd"));
        let (a, b) = p.connect(80, Some(with_cc(CcKind::NewReno)), None);
        assert_eq!(p.a.info(a).unwrap().congestion, "reno");
        assert_eq!(p.b.info(b).unwrap().congestion, "cubic");
    }
    // Stacks configured for NewReno; the listener's options ask for CUBIC. (The first pair
    // is dropped first: its pools serve this one.)
    let mut q = Pair::new(PairConfig::new("ccr").tcp(|t| t.congestion = CcKind::NewReno));
    let (a, b) = q.connect(80, None, Some(with_cc(CcKind::Cubic)));
    assert_eq!(q.a.info(a).unwrap().congestion, "reno");
    assert_eq!(q.b.info(b).unwrap().congestion, "cubic");
}

/// 2 MiB from A to B over 10 Mbit/s, 40 ms RTT (a BDP of 34 segments) and a 400-frame queue
/// at the bottleneck; returns A's `(ssthresh, retransmitted segments)` at the end.
///
/// With CUBIC, HyStart++ sees the queue start to build (the round's minimum RTT 5 ms up at
/// about 80 segments) and enters CSS, whose five rounds of quarter growth end at 235
/// segments: below the 434 that fill the path. A 200-frame queue would overflow during CSS.
fn bulk_over_a_bottleneck(name: &str, kind: CcKind) -> (u32, u64) {
    let mut cfg = PairConfig::new(name).tcp(|t| t.congestion = kind);
    cfg.link.bandwidth_bps = 10_000_000;
    cfg.link.latency = Duration::from_millis(20);
    cfg.link.queue_limit = 400;
    let mut p = Pair::new(cfg);
    let (a, b) = p.connect(80, None, None);
    let start = p.now;
    let mut st = [Stream::new(Side::A, a, b, 2 << 20, 7)];
    let end = p.transfer(&mut st, Duration::from_secs(120));
    let ssthresh = p.a.info(a).unwrap().ssthresh;
    (ssthresh, p.outcome(start, end, 2 << 20).retrans())
}

#[test]
fn hystart_leaves_slow_start_before_the_queue_overflows() {
    let (ssthresh, retrans) = bulk_over_a_bottleneck("cch", CcKind::Cubic);
    assert_ne!(ssthresh, u32::MAX, "HyStart++ ended slow start");
    assert!(
        ssthresh < 300 * 1448,
        "well before the path is full: {ssthresh}"
    );
    assert_eq!(retrans, 0, "without a loss");
    // Classic slow start doubles into the queue and loses.
    let (_, retrans) = bulk_over_a_bottleneck("ccn", CcKind::NewReno);
    assert!(retrans > 0, "NewReno's slow start overflows the queue");
}
