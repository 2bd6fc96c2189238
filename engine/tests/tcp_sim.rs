//! Deterministic two-stack TCP tests over the simulated link, in virtual time (issue 3):
//! handshakes (normal, simultaneous, SYN lost, SYN-ACK lost) and 16 MiB transfers at 0 %, 1 %
//! and 5 % loss with reordering and duplication, every byte checked, the same outcome for the
//! same seed. The harness is `sim/mod.rs`; timers are in `tcp_sim_timers.rs`, closing and many
//! connections in `tcp_sim_close.rs`.

mod sim;

use std::time::Duration;

use engine::tcp::{Event, State};
use engine::time::Instant;
use sim::{IP_A, IP_B, Outcome, Pair, PairConfig, Seg, Side, Stream, drop_nth};

/// One-way latency of the harness's link: RTT is twice this (plus microseconds of
/// serialization for small frames).
const LATENCY: Duration = Duration::from_millis(1);

/// Instants at which `side` sent segments matching `pred`.
fn sent_at(p: &Pair, side: Side, pred: impl Fn(&Seg) -> bool) -> Vec<Instant> {
    p.segs(side)
        .into_iter()
        .filter(|(_, s)| pred(s))
        .map(|(t, _)| t)
        .collect()
}

/// Exchanges `len` bytes each way on an established connection and closes it gracefully.
fn exchange_and_close(p: &mut Pair, a: engine::tcp::ConnId, b: engine::tcp::ConnId, len: usize) {
    let mut st = [
        Stream::new(Side::A, a, b, len, 11).with_shutdown(),
        Stream::new(Side::B, b, a, len, 12).with_shutdown(),
    ];
    p.transfer(&mut st, Duration::from_secs(30));
    p.close_both(a, b, Duration::from_secs(300));
    assert_eq!(p.a.tcp().connections(), 0, "A freed everything");
    assert_eq!(p.b.tcp().connections(), 0, "B freed everything");
}

#[test]
fn handshake_normal_one_rtt() {
    let mut p = Pair::new(PairConfig::new("hsn"));
    p.listen(Side::B, 80, None);
    p.poll();
    let t0 = p.now;
    let c = p.a.connect(IP_B, 80, None).unwrap();
    let s = p.await_established(Side::A, c, Duration::from_secs(1));
    let connected = p.event_time(Side::A, |e| e == Event::Connected(c)).unwrap();
    let rtt = connected - t0;
    assert!(
        rtt >= 2 * LATENCY && rtt < 2 * LATENCY + Duration::from_micros(10),
        "connected after {rtt:?}: one round trip expected"
    );
    let accepted = p.accepted[0].0;
    assert!(
        accepted - t0 >= 3 * LATENCY,
        "B accepts after the third segment"
    );
    assert_eq!(sent_at(&p, Side::A, Seg::is_syn).len(), 1);
    assert_eq!(sent_at(&p, Side::B, Seg::is_syn_ack).len(), 1);
    let (ia, ib) = (p.a.info(c).unwrap(), p.b.info(s).unwrap());
    for i in [&ia, &ib] {
        assert_eq!(i.state, State::Established);
        assert_eq!(
            i.mss,
            1500 - 40 - 12,
            "MSS from the MTU, less the timestamp option"
        );
        assert!(
            i.timestamps && i.sack && i.snd_wscale > 0,
            "options negotiated: {i:?}"
        );
    }
    assert_eq!((ia.local, ia.remote), (ib.remote, ib.local));
    assert_eq!(ia.snd_nxt, ib.rcv_nxt);
    assert_eq!(ib.snd_nxt, ia.rcv_nxt);
    let (ca, cb) = (p.a.counters(), p.b.counters());
    assert_eq!((ca.tcp.active_opens, cb.tcp.passive_opens), (1, 1));
    assert_eq!(ca.tcp.retrans_segs + cb.tcp.retrans_segs, 0);
    assert_eq!((ca.curr_estab, cb.curr_estab), (1, 1));
    exchange_and_close(&mut p, c, s, 100_000);
}

#[test]
fn handshake_simultaneous_open() {
    let mut p = Pair::new(PairConfig::new("hss"));
    let t0 = p.now;
    // Two active opens toward each other's fixed port at the same instant (RFC 9293 figure 8).
    let a = p.a.connect_from(5000, IP_B, 6000, None).unwrap();
    let b = p.b.connect_from(6000, IP_A, 5000, None).unwrap();
    let peer = p.await_established(Side::A, a, Duration::from_secs(1));
    assert_eq!(peer, b);
    p.run_until("B connected", Duration::from_secs(1), |p| {
        p.event_time(Side::B, |e| e == Event::Connected(b))
            .is_some()
    });
    for side in [Side::A, Side::B] {
        let segs = p.segs(side);
        let count = |f: fn(&Seg) -> bool| segs.iter().filter(|(_, s)| f(s)).count();
        assert_eq!(count(Seg::is_syn), 1, "{side:?}: one SYN");
        assert_eq!(
            count(Seg::is_syn_ack),
            1,
            "{side:?}: one SYN-ACK on the same ISS"
        );
        assert_eq!(count(Seg::is_rst), 0, "{side:?}: no reset");
        let c = p.stack_ref(side).counters();
        assert_eq!(c.tcp.retrans_segs, 0, "{side:?}: no retransmission");
        assert_eq!((c.tcp.active_opens, c.tcp.passive_opens), (1, 0));
    }
    let (ia, ib) = (p.a.info(a).unwrap(), p.b.info(b).unwrap());
    assert_eq!(
        (ia.state, ib.state),
        (State::Established, State::Established)
    );
    assert_eq!((ia.snd_nxt, ib.snd_nxt), (ib.rcv_nxt, ia.rcv_nxt));
    // Established in about one round trip, not after a retransmission timeout.
    assert!(p.now - t0 < Duration::from_millis(10), "at {}", p.now);
    assert!(ia.timestamps && ia.sack && ia.snd_wscale > 0, "{ia:?}");
    exchange_and_close(&mut p, a, b, 100_000);
}

#[test]
fn handshake_syn_lost_retransmitted_after_initial_rto() {
    let mut p = Pair::new(PairConfig::new("hsl"));
    p.script(Side::A, Some(drop_nth(0, Seg::is_syn)));
    p.listen(Side::B, 80, None);
    p.poll();
    let c = p.a.connect(IP_B, 80, None).unwrap();
    let s = p.await_established(Side::A, c, Duration::from_secs(5));
    let syns = sent_at(&p, Side::A, Seg::is_syn);
    assert_eq!(syns.len(), 2, "the lost SYN and one retransmission");
    assert_eq!(
        syns[1] - syns[0],
        Duration::from_secs(1),
        "RFC 6298 (2.1): initial RTO 1 s"
    );
    let connected = p.event_time(Side::A, |e| e == Event::Connected(c)).unwrap();
    let after = connected - syns[1];
    assert!(
        after >= 2 * LATENCY && after < 2 * LATENCY + Duration::from_micros(10),
        "connected one RTT after the retransmission, not {after:?}"
    );
    assert_eq!(sent_at(&p, Side::B, Seg::is_syn_ack).len(), 1);
    assert_eq!(p.a.counters().tcp.retrans_segs, 1);
    // Karn: no RTT sample from the retransmitted SYN, so the RTO stays the initial 1 s (not
    // the 200 ms floor a 2 ms sample would give) until data is acknowledged.
    assert_eq!(p.a.info(c).unwrap().srtt, None);
    exchange_and_close(&mut p, c, s, 50_000);
}

#[test]
fn handshake_syn_ack_lost() {
    let mut p = Pair::new(PairConfig::new("hsa"));
    p.script(Side::B, Some(drop_nth(0, Seg::is_syn_ack)));
    p.listen(Side::B, 80, None);
    p.poll();
    let t0 = p.now;
    let c = p.a.connect(IP_B, 80, None).unwrap();
    let s = p.await_established(Side::A, c, Duration::from_secs(5));
    let syns = sent_at(&p, Side::A, Seg::is_syn);
    let syn_acks = sent_at(&p, Side::B, Seg::is_syn_ack);
    assert_eq!(syns.len(), 2, "A times out and sends its SYN again");
    assert_eq!(syns[1] - syns[0], Duration::from_secs(1));
    assert!(syn_acks.len() >= 2, "B sends its SYN-ACK again");
    assert!(syn_acks[1] - syn_acks[0] <= Duration::from_secs(1) + 2 * LATENCY);
    let connected = p.event_time(Side::A, |e| e == Event::Connected(c)).unwrap();
    assert!(
        connected - t0 >= Duration::from_secs(1)
            && connected - t0 < Duration::from_secs(1) + 4 * LATENCY,
        "connected at {connected}"
    );
    assert_eq!(p.b.info(s).unwrap().state, State::Established);
    assert!(p.b.counters().tcp.retrans_segs >= 1);
    exchange_and_close(&mut p, c, s, 50_000);
}

// ---------------------------------------------------------------------------------------------
// Bulk transfers under loss.
// ---------------------------------------------------------------------------------------------

const BULK: usize = 16 << 20;

/// What a transfer run gives: the outcome (equal for equal seeds) and when each direction
/// finished.
struct Run {
    outcome: Outcome,
    done: Vec<Duration>,
}

/// Sends `BULK` bytes A→B, and B→A too when `both`, over a link with `loss` (plus reordering
/// and duplication) drawn from `seed`; checks every byte; closes gracefully.
fn bulk(name: &str, loss: f64, seed: u64, both: bool) -> Run {
    let mut p = Pair::new(PairConfig::new(name).lossy(loss, seed));
    let (a, b) = p.connect(80, None, None);
    let start = p.now;
    let mut st = vec![Stream::new(Side::A, a, b, BULK, seed).with_shutdown()];
    if both {
        st.push(Stream::new(Side::B, b, a, BULK, !seed).with_shutdown());
    }
    let end = p.transfer(&mut st, Duration::from_secs(600));
    let done = st.iter().map(|s| s.done_at.unwrap() - start).collect();
    p.close_both(a, b, Duration::from_secs(600));
    assert_eq!(p.a.tcp().connections() + p.b.tcp().connections(), 0);
    let bytes = (st.len() * BULK) as u64;
    let outcome = p.outcome(start, end, bytes);
    for (side, link, c, f) in [
        (Side::A, &outcome.link_a, &outcome.a, &outcome.fault_a),
        (Side::B, &outcome.link_b, &outcome.b, &outcome.fault_b),
    ] {
        assert_eq!(link.oversize, 0, "{side:?}: every frame fits the MTU");
        assert_eq!(
            link.rx_nombuf + f.nombuf,
            0,
            "{side:?}: the link's pools suffice"
        );
        assert_eq!(
            c.ip.tx_nombuf + c.ip.out_nombuf,
            0,
            "{side:?}: pools suffice"
        );
        assert_eq!(c.tx_dropped, 0, "{side:?}: TX batch never full");
    }
    Run { outcome, done }
}

/// Frames the receiving stack dropped as damaged (an IPv4 checksum error counts in
/// `IpInHdrErrors` as well as `IpExtInCsumErrors`, as in Linux, so only the former is summed).
fn rx_errors(c: &engine::Counters) -> u64 {
    let i = &c.ip;
    i.ip_in_hdr_errors
        + i.ip_in_addr_errors
        + i.ip_in_unknown_protos
        + i.ip_ext_in_truncated_pkts
        + i.tcp_in_csum_errors
        + i.tcp_in_hdr_errors
}

#[test]
fn corrupted_frames_fail_their_checksums_and_are_recovered() {
    let mut cfg = PairConfig::new("cor");
    for (f, seed) in [(&mut cfg.fault_a, 5), (&mut cfg.fault_b, 6)] {
        f.seed = seed;
        f.corrupt = 0.01;
    }
    let mut p = Pair::new(cfg);
    let (a, b) = p.connect(80, None, None);
    let len = 4 << 20;
    let mut st = [
        Stream::new(Side::A, a, b, len, 1).with_shutdown(),
        Stream::new(Side::B, b, a, len, 2).with_shutdown(),
    ];
    p.transfer(&mut st, Duration::from_secs(60));
    let o = p.outcome(p.now, p.now, 0);
    assert!(o.fault_a.corrupted > 20 && o.fault_b.corrupted > 20);
    assert_eq!(
        rx_errors(&o.b),
        o.fault_a.corrupted,
        "B dropped every corrupted frame"
    );
    assert_eq!(
        rx_errors(&o.a),
        o.fault_b.corrupted,
        "A dropped every corrupted frame"
    );
    assert!(o.retrans() > 0);
    p.close_both(a, b, Duration::from_secs(300));
}

/// One row of the goodput table (virtual time).
fn row(loss: f64, what: &str, r: &Run) {
    let o = &r.outcome;
    let per_dir: Vec<String> = r
        .done
        .iter()
        .map(|d| format!("{:.1}", BULK as f64 * 8.0 / d.as_secs_f64() / 1e6))
        .collect();
    eprintln!(
        "goodput | loss {:>3.0} % | {what:<13} | {:>9.3} s | {:>15} Mbit/s | retrans {:>5} | \
         fast retrans {:>4} | RTOs {:>4} | dropped {:>5} dup {:>4} reordered {:>4}",
        loss * 100.0,
        o.elapsed.as_secs_f64(),
        per_dir.join(" / "),
        o.retrans(),
        o.a.tcp.fast_retrans + o.b.tcp.fast_retrans,
        o.timeouts(),
        o.fault_a.dropped + o.fault_b.dropped,
        o.fault_a.duplicated + o.fault_b.duplicated,
        o.fault_a.reordered + o.fault_b.reordered,
    );
}

/// The bulk test of one loss rate: one way, then both ways twice with the same seed (same
/// outcome) and, under loss, once with another seed (another outcome).
fn bulk_at(tag: &str, loss: f64) {
    let one_way = bulk(&format!("{tag}o"), loss, 1, false);
    row(loss, "A→B", &one_way);
    let first = bulk(&format!("{tag}1"), loss, 1, true);
    row(loss, "A→B + B→A", &first);
    let again = bulk(&format!("{tag}2"), loss, 1, true);
    assert_eq!(
        first.outcome, again.outcome,
        "same seed, same outcome (time, counters, link statistics)"
    );
    assert_eq!(first.done, again.done);
    if loss > 0.0 {
        assert!(first.outcome.retrans() > 0, "loss causes retransmissions");
        let other = bulk(&format!("{tag}3"), loss, 2, true);
        assert_ne!(
            (first.outcome.elapsed, first.outcome.retrans()),
            (other.outcome.elapsed, other.outcome.retrans()),
            "another seed, another outcome"
        );
    } else {
        let o = &first.outcome;
        assert_eq!(o.retrans(), 0, "no loss, no retransmission");
        assert_eq!(o.fault_a.dropped + o.fault_b.dropped, 0);
    }
}

#[test]
fn bulk_16mib_no_loss() {
    bulk_at("b0", 0.0);
}

#[test]
fn bulk_16mib_1pct_loss_reorder_dup() {
    bulk_at("b1", 0.01);
}

#[test]
fn bulk_16mib_5pct_loss_reorder_dup() {
    bulk_at("b5", 0.05);
}
