//! Deterministic two-stack tests of TCP's timers, in virtual time (issue 3): RTO backoff to
//! a timeout, zero window and persist probes, keepalive against a dead and a live peer,
//! TIME_WAIT expiry and 4-tuple reuse. The harness is `sim/mod.rs`.

mod sim;

use std::time::Duration;

use engine::tcp::{ConnId, ConnOptions, Event, Keepalive, State, TcpError};
use engine::time::Instant;
use sim::{IP_B, Pair, PairConfig, Seg, Side, Stream, drop_all_tcp};

/// Runs until every byte `side` sent on `c` is acknowledged.
fn await_all_acked(p: &mut Pair, side: Side, c: ConnId) {
    p.run_until("everything acknowledged", Duration::from_secs(10), |p| {
        let i = p.stack_ref(side).info(c).unwrap();
        i.unacked_bytes == 0 && i.unsent_bytes == 0
    });
}

/// Window probes and keepalive probes: no payload, one below `snd.una`.
fn is_probe(s: &Seg, una: u32) -> bool {
    s.is_pure_ack() && s.seq == una.wrapping_sub(1)
}

#[test]
fn rto_backs_off_exponentially_to_max_then_times_out() {
    let max_rto = Duration::from_secs(2);
    let cfg = PairConfig::new("rto").tcp(|t| {
        t.rtt.max_rto = max_rto;
        t.max_retries = 6;
    });
    let mut p = Pair::new(cfg);
    let (a, b) = p.connect(80, None, None);
    // A first exchange gives an RTT sample (2 ms), so the RTO sits at its 200 ms floor.
    let mut st = [Stream::new(Side::A, a, b, 20_000, 1)];
    p.transfer(&mut st, Duration::from_secs(1));
    await_all_acked(&mut p, Side::A, a);
    let rto = p.a.info(a).unwrap().rto;
    assert_eq!(rto, Duration::from_millis(200));
    // The peer becomes unreachable; A has 10 kB to deliver.
    p.script(Side::A, Some(drop_all_tcp()));
    p.script(Side::B, Some(drop_all_tcp()));
    let una = p.a.info(a).unwrap().snd_una;
    let t0 = p.now;
    assert_eq!(p.a.send(a, &[7; 10_000]).unwrap(), 10_000);
    let closed = p.run_until("A times out", Duration::from_secs(60), |p| {
        p.closed(Side::A, a).is_some()
    });
    assert_eq!(p.closed(Side::A, a), Some(Some(TcpError::TimedOut)));
    assert_eq!(p.a.recv(a, &mut [0; 8]), Err(TcpError::TimedOut));
    // Every retransmission resends the first unacknowledged byte, each after twice the
    // previous interval, up to the maximum (RFC 6298 5.5).
    let rtx: Vec<Instant> = p
        .segs(Side::A)
        .into_iter()
        .filter(|(t, s)| *t >= t0 && s.is_data() && s.seq == una)
        .map(|(t, _)| t)
        .collect();
    let mut want = vec![];
    let mut d = rto;
    for _ in 0..=6 {
        want.push(d);
        d = (d * 2).min(max_rto);
    }
    // Before the first RTO a tail loss probe (RFC 8985 §7) resends the last segment after
    // 2·SRTT + 2 ms, and the RTO restarts from the probe (§7.3).
    let probes: Vec<Instant> = p
        .segs(Side::A)
        .into_iter()
        .filter(|(t, s)| {
            *t > t0 && s.is_data() && s.seq != una && rtx.get(1).is_some_and(|r| t < r)
        })
        .map(|(t, _)| t)
        .collect();
    let got: Vec<Duration> = rtx.windows(2).map(|w| w[1] - w[0]).collect();
    eprintln!("sent at {rtx:?}, probes {probes:?}, intervals {got:?}, closed at {closed}");
    assert_eq!(
        rtx.len(),
        7,
        "the first transmission and max_retries = 6 retransmissions"
    );
    assert_eq!(rtx[0], t0, "first sent at once");
    assert_eq!(probes.len(), 1, "one tail loss probe before the first RTO");
    assert!(
        probes[0] - t0 < rto / 10,
        "the probe comes long before the RTO"
    );
    assert_eq!(rtx[1] - probes[0], rto, "the RTO counts from the probe");
    assert_eq!(got[1..], want[1..6], "retransmission intervals");
    assert_eq!(
        closed - rtx[6],
        want[6],
        "gives up one backed-off RTO after the last"
    );
    let c = p.a.counters();
    assert_eq!(c.tcp.timeouts, 6);
    assert_eq!(c.tcp.loss_probes, 1);
    assert_eq!(c.tcp.abort_on_timeout, 1);
    assert_eq!(c.curr_estab, 0);
    p.a.close(a);
    assert_eq!(p.a.tcp().connections(), 0);
}

#[test]
fn zero_window_persist_probes_back_off_and_reads_resume_the_sender() {
    let rcvbuf = 64 * 1024;
    let small = ConnOptions {
        rcvbuf,
        ..ConnOptions::default()
    };
    let mut p = Pair::new(PairConfig::new("zwp"));
    let (a, b) = p.connect(80, None, Some(small));
    // B's application does not read: A fills B's window and must stop.
    let len = 512 * 1024;
    let mut st = [Stream::new(Side::A, a, b, len, 3).with_shutdown()];
    st[0].read = false;
    p.run("window closes", Duration::from_secs(5), |p| {
        let flow = p.pump(&mut st);
        let i = p.a.info(a).unwrap();
        // A window left smaller than a segment is filled when the persist timer fires
        // (RFC 9293 §3.8.6.2.1 override, Linux tcp_write_wakeup); then it is zero.
        if i.snd_wnd == 0 && i.unacked_bytes == 0 {
            sim::Flow::Done
        } else {
            flow
        }
    });
    let closed_at = p.now;
    let held = p.b.info(b).unwrap().readable_bytes;
    // The buffer, plus what the rounding of scaled windows let the right edge creep.
    assert!(
        held > rcvbuf as usize * 9 / 10 && held <= rcvbuf as usize * 11 / 10,
        "B holds {held} bytes"
    );
    assert!(p.a.info(a).unwrap().unsent_bytes > 0);
    // The window stays shut for a while: A only probes it, backing off.
    p.advance(Duration::from_secs(10));
    let una = p.a.info(a).unwrap().snd_una;
    let probes: Vec<Instant> = p
        .segs(Side::A)
        .into_iter()
        .filter(|(t, s)| *t >= closed_at && is_probe(s, una))
        .map(|(t, _)| t)
        .collect();
    let data_while_shut = p
        .segs(Side::A)
        .into_iter()
        .filter(|(t, s)| *t > closed_at && s.is_data())
        .count();
    assert_eq!(data_while_shut, 0, "no data into a zero window");
    assert!(probes.len() >= 4, "window probes: {probes:?}");
    let gaps: Vec<Duration> = probes.windows(2).map(|w| w[1] - w[0]).collect();
    for w in gaps.windows(2) {
        assert_eq!(w[1], w[0] * 2, "persist backoff doubles: {gaps:?}");
    }
    assert_eq!(p.a.counters().tcp.win_probes, probes.len() as u64);
    eprintln!("window probes at {probes:?}, gaps {gaps:?}");
    // A queued its FIN behind the data; the connection waits, it does not time out.
    assert_eq!(p.a.info(a).unwrap().state, State::FinWait1);
    // The application reads: the window update lets A go on at once.
    st[0].read = true;
    let read_at = p.now;
    p.run("first read", Duration::from_secs(1), |p| {
        p.pump(&mut st);
        if st[0].got > 0 {
            sim::Flow::Done
        } else {
            sim::Flow::Acted
        }
    });
    p.run_until("A sends again", Duration::from_secs(1), |p| {
        p.segs(Side::A)
            .iter()
            .any(|(t, s)| *t >= read_at && s.is_data())
    });
    let resumed = p
        .segs(Side::A)
        .into_iter()
        .find(|(t, s)| *t >= read_at && s.is_data())
        .unwrap()
        .0;
    assert!(
        resumed - read_at <= Duration::from_millis(1) + Duration::from_micros(50),
        "A resumed {:?} after the read: one-way delay expected",
        resumed - read_at
    );
    p.transfer(&mut st, Duration::from_secs(10));
    assert_eq!(st[0].got, len);
}

/// Keepalive with small values, on the connecting side.
fn keepalive_opts() -> (Keepalive, ConnOptions) {
    let ka = Keepalive::new(Duration::from_secs(2), Duration::from_millis(500), 3);
    let opts = ConnOptions {
        keepalive: Some(ka),
        ..ConnOptions::default()
    };
    (ka, opts)
}

#[test]
fn keepalive_declares_a_vanished_peer_dead() {
    let (ka, opts) = keepalive_opts();
    let mut p = Pair::new(PairConfig::new("kad"));
    let (a, b) = p.connect(80, Some(opts), None);
    let mut st = [Stream::new(Side::B, b, a, 1000, 5)];
    p.transfer(&mut st, Duration::from_secs(1));
    await_all_acked(&mut p, Side::B, b);
    // The last segment A received (B's ACK of nothing, or its data) sets the idle clock.
    let last_rx = p
        .segs(Side::B)
        .last()
        .map(|(t, _)| *t + Duration::from_millis(1))
        .unwrap();
    p.script(Side::A, Some(drop_all_tcp()));
    p.script(Side::B, Some(drop_all_tcp()));
    let closed = p.run_until("keepalive gives up", Duration::from_secs(30), |p| {
        p.closed(Side::A, a).is_some()
    });
    assert_eq!(p.closed(Side::A, a), Some(Some(TcpError::TimedOut)));
    let expect = ka.idle() + ka.interval() * u32::from(ka.probes);
    let waited = closed - last_rx;
    assert!(
        waited >= expect && waited < expect + Duration::from_micros(50),
        "declared dead {waited:?} after the last segment, expected idle + probes × interval \
         = {expect:?}"
    );
    let una = p.a.info(a).unwrap().snd_una;
    let probes: Vec<Instant> = p
        .segs(Side::A)
        .into_iter()
        .filter(|(t, s)| *t > last_rx && is_probe(s, una))
        .map(|(t, _)| t)
        .collect();
    assert_eq!(probes.len(), usize::from(ka.probes), "{probes:?}");
    assert!(probes[0] - last_rx >= ka.idle());
    for w in probes.windows(2) {
        assert_eq!(w[1] - w[0], ka.interval());
    }
    let rst_sent = p
        .segs(Side::A)
        .iter()
        .any(|(t, s)| *t == closed && s.is_rst());
    assert!(rst_sent, "A resets the dead connection");
    assert_eq!(p.a.counters().tcp.keepalive_probes, u64::from(ka.probes));
    assert_eq!(p.a.counters().tcp.abort_on_timeout, 1);
}

#[test]
fn keepalive_against_a_live_idle_peer_keeps_the_connection() {
    let (ka, opts) = keepalive_opts();
    let mut p = Pair::new(PairConfig::new("kal"));
    let (a, b) = p.connect(80, Some(opts), None);
    let t0 = p.now;
    p.advance(Duration::from_secs(21));
    let una = p.a.info(a).unwrap().snd_una;
    let probes: Vec<Instant> = p
        .segs(Side::A)
        .into_iter()
        .filter(|(t, s)| *t > t0 && is_probe(s, una))
        .map(|(t, _)| t)
        .collect();
    // Each probe is answered, so the next one waits a full idle period again.
    assert!(probes.len() >= 9, "probes: {probes:?}");
    for w in probes.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            gap >= ka.idle() && gap < ka.idle() + Duration::from_millis(3),
            "probe gap {gap:?}"
        );
    }
    let answers = p
        .segs(Side::B)
        .into_iter()
        .filter(|(t, s)| *t > t0 && s.is_pure_ack())
        .count();
    assert!(answers >= probes.len(), "B answers every probe");
    assert_eq!(p.closed(Side::A, a), None);
    assert_eq!(p.a.info(a).unwrap().state, State::Established);
    assert_eq!(
        p.a.counters().tcp.keepalive_probes,
        probes.len() as u64,
        "counted"
    );
    let mut st = [
        Stream::new(Side::A, a, b, 10_000, 1),
        Stream::new(Side::B, b, a, 10_000, 2),
    ];
    p.transfer(&mut st, Duration::from_secs(1));
    assert_eq!(p.a.counters().tcp.retrans_segs, 0);
}

#[test]
fn time_wait_lasts_exactly_its_configured_time_then_the_tuple_is_reused() {
    let tw = Duration::from_secs(3);
    let cfg = PairConfig::new("tw").tcp(|t| {
        t.time_wait = tw;
        t.tw_reuse_after = None;
        // One ephemeral port: a second connection needs the same 4-tuple.
        t.ephemeral_ports = 40000..=40000;
    });
    let mut p = Pair::new(cfg);
    let (a, b) = p.connect(80, None, None);
    let port = p.a.info(a).unwrap().local.port();
    assert_eq!(port, 40000);
    // A closes first (the active closer), B after it has read the end of file.
    p.a.close(a);
    let mut buf = [0u8; 16];
    p.run(
        "B reads the end of file",
        Duration::from_secs(1),
        |p| match p.b.recv(b, &mut buf) {
            Ok(0) => {
                p.b.close(b);
                sim::Flow::Done
            }
            Err(TcpError::WouldBlock) => sim::Flow::Idle,
            r => panic!("B: {r:?}"),
        },
    );
    let entered = p.run_until("A in TIME_WAIT", Duration::from_secs(1), |p| {
        p.a.counters().time_wait == 1
    });
    assert_eq!(p.a.tcp().connections(), 1);
    p.run_until("B freed its side", Duration::from_secs(1), |p| {
        p.b.tcp().connections() == 0
    });
    // Meanwhile the 4-tuple is taken: the only ephemeral port is in TIME_WAIT.
    assert_eq!(p.a.connect(IP_B, 80, None), Err(TcpError::NoPorts));
    let freed = p.run_until("TIME_WAIT over", tw * 2, |p| p.a.counters().time_wait == 0);
    assert_eq!(
        freed - entered,
        tw,
        "TIME_WAIT lasts 2·MSL as configured, to the tick"
    );
    assert_eq!(p.a.tcp().connections(), 0, "the TCB is freed");
    let c2 =
        p.a.connect(IP_B, 80, None)
            .expect("the 4-tuple is free again");
    assert_eq!(p.a.info(c2).unwrap().local.port(), port);
    let s2 = p.await_established(Side::A, c2, Duration::from_secs(1));
    let mut st = [Stream::new(Side::A, c2, s2, 30_000, 9).with_shutdown()];
    p.transfer(&mut st, Duration::from_secs(1));
    let n = p
        .events
        .iter()
        .filter(|(_, s, e)| *s == Side::A && matches!(e, Event::Connected(_)))
        .count();
    assert_eq!(n, 2);
}
