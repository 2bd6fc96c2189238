//! Deterministic two-stack tests of closing, in virtual time (issue 3): half-close from
//! either side, reset on close with unread data, and a thousand concurrent connections that
//! all complete and are all freed. The harness is `sim/mod.rs`.

mod sim;

use std::time::Duration;

use engine::tcp::{ConnId, State, TcpError};
use sim::{IP_B, Pair, PairConfig, Side, Stream};

/// `first` sends a request and shuts down writing; the peer reads it to the end of file, then
/// answers with 1 MiB on the half-closed connection, which `first` still reads; then the peer
/// closes too.
fn half_close(name: &str, first: Side) {
    let mut p = Pair::new(PairConfig::new(name));
    let (a, b) = p.connect(80, None, None);
    let (closer, other) = match first {
        Side::A => (a, b),
        Side::B => (b, a),
    };
    let mut req = [Stream::new(first, closer, other, 20_000, 1).with_shutdown()];
    p.transfer(&mut req, Duration::from_secs(5));
    p.run_until("FIN acknowledged", Duration::from_secs(1), |p| {
        p.stack_ref(first).info(closer).unwrap().state == State::FinWait2
    });
    assert_eq!(
        p.stack_ref(first.peer()).info(other).unwrap().state,
        State::CloseWait
    );
    assert_eq!(
        p.stack(first).send(closer, b"more"),
        Err(TcpError::Shutdown),
        "the closer's sending side is shut"
    );
    let mut resp = [Stream::new(first.peer(), other, closer, 1 << 20, 2).with_shutdown()];
    p.transfer(&mut resp, Duration::from_secs(10));
    p.run_until("both sides closed", Duration::from_secs(1), |p| {
        p.closed(first, closer).is_some() && p.closed(first.peer(), other).is_some()
    });
    assert_eq!(p.closed(first, closer), Some(None), "graceful");
    assert_eq!(p.closed(first.peer(), other), Some(None), "graceful");
    assert_eq!(
        p.stack_ref(first).info(closer).unwrap().state,
        State::TimeWait,
        "the side that closed first waits"
    );
    p.stack(first).close(closer);
    p.stack(first.peer()).close(other);
    p.run_until("everything freed", Duration::from_secs(120), |p| {
        p.a.tcp().connections() + p.b.tcp().connections() == 0
    });
    for side in [Side::A, Side::B] {
        let c = p.stack_ref(side).counters();
        assert_eq!(c.tcp.out_rsts + c.tcp.estab_resets, 0, "{side:?}: no reset");
        assert_eq!(c.tcp.retrans_segs, 0, "{side:?}: no retransmission");
    }
}

#[test]
fn half_close_by_the_client_then_server_sends_on() {
    half_close("hca", Side::A);
}

#[test]
fn half_close_by_the_server_then_client_sends_on() {
    half_close("hcb", Side::B);
}

/// B's application closes with `unread` bytes it never read: B resets the connection (RFC
/// 2525 §2.17) and A sees `Reset`, whether A is still open or has shut down writing.
fn reset_on_close(name: &str, a_shut_down: bool) {
    let mut p = Pair::new(PairConfig::new(name));
    let (a, b) = p.connect(80, None, None);
    let unread = 10_000;
    let mut st = Stream::new(Side::A, a, b, unread, 4);
    st.read = false;
    st.shutdown = a_shut_down;
    let mut st = [st];
    p.run("B holds the data", Duration::from_secs(1), |p| {
        let flow = p.pump(&mut st);
        let i = p.a.info(a).unwrap();
        let acked = i.unacked_bytes == 0 && (!a_shut_down || i.state == State::FinWait2);
        if p.b.info(b).unwrap().readable_bytes == unread && acked {
            sim::Flow::Done
        } else {
            flow
        }
    });
    if a_shut_down {
        assert_eq!(p.a.info(a).unwrap().state, State::FinWait2);
    }
    let t = p.now;
    p.b.close(b);
    assert_eq!(p.b.counters().tcp.abort_on_close, 1);
    p.run_until("A sees the reset", Duration::from_secs(1), |p| {
        p.closed(Side::A, a).is_some()
    });
    let sent: Vec<_> = p
        .segs(Side::B)
        .into_iter()
        .filter(|(at, _)| *at >= t)
        .collect();
    assert_eq!(sent.len(), 1, "B sent one segment: {sent:?}");
    assert!(sent[0].1.is_rst(), "B sent a reset: {sent:?}");
    assert_eq!(p.closed(Side::A, a), Some(Some(TcpError::Reset)));
    assert_eq!(p.a.recv(a, &mut [0; 16]), Err(TcpError::Reset));
    assert!(p.a.send(a, b"x").is_err());
    if !a_shut_down {
        assert_eq!(p.a.counters().tcp.estab_resets, 1);
    }
    assert_eq!(p.a.counters().curr_estab, 0);
    assert_eq!(p.b.tcp().connections(), 0, "B freed it at once");
    p.a.close(a);
    assert_eq!(p.a.tcp().connections(), 0);
}

#[test]
fn close_with_unread_data_resets_an_open_peer() {
    reset_on_close("rsa", false);
}

#[test]
fn close_with_unread_data_resets_a_half_closed_peer() {
    reset_on_close("rsb", true);
}

#[test]
fn thousand_concurrent_connections_all_complete() {
    let n = 1000;
    let mut p = Pair::new(PairConfig::new("many"));
    p.listen(Side::B, 7, None);
    p.poll();
    let clients: Vec<ConnId> = (0..n)
        .map(|i| {
            p.a.connect(IP_B, 7, None)
                .unwrap_or_else(|e| panic!("connect {i}: {e}"))
        })
        .collect();
    p.run_until("all connected", Duration::from_secs(30), |p| {
        p.accepted.len() == n && p.a.counters().curr_estab == n as u64
    });
    let servers: Vec<ConnId> = clients
        .iter()
        .map(|&c| p.peer_of(Side::A, c).expect("accepted"))
        .collect();
    // Each connection: a request of up to 4 kB, a response of up to 6 kB, both shut down.
    let mut st = Vec::with_capacity(2 * n);
    for (i, (&c, &s)) in clients.iter().zip(&servers).enumerate() {
        let i = i as u64;
        let req = 100 + (i as usize * 97) % 4000;
        let resp = 200 + (i as usize * 53) % 6000;
        st.push(Stream::new(Side::A, c, s, req, 2 * i).with_shutdown());
        st.push(Stream::new(Side::B, s, c, resp, 2 * i + 1).with_shutdown());
    }
    let start = p.now;
    let done = p.transfer(&mut st, Duration::from_secs(60));
    let bytes: usize = st.iter().map(|s| s.got).sum();
    for (&c, &s) in clients.iter().zip(&servers) {
        p.a.close(c);
        p.b.close(s);
    }
    p.run_until("all freed", Duration::from_secs(300), |p| {
        p.a.tcp().connections() + p.b.tcp().connections() == 0
    });
    let (ca, cb) = (p.a.counters(), p.b.counters());
    eprintln!(
        "{n} connections, {bytes} bytes in {:?}, all freed at {}; A retrans {} RTOs {}, \
         B retrans {} RTOs {}; NIC queue drops A {} B {}",
        done - start,
        p.now,
        ca.tcp.retrans_segs,
        ca.tcp.timeouts,
        cb.tcp.retrans_segs,
        cb.tcp.timeouts,
        p.a.device().inner().inner().stats().tail_drops,
        p.b.device().inner().inner().stats().tail_drops,
    );
    for side in [Side::A, Side::B] {
        let st = p.stack_ref(side);
        let nombuf = st.counters().ip.tx_nombuf + st.device().inner().inner().stats().rx_nombuf;
        assert_eq!(nombuf, 0, "{side:?}: the pools suffice");
    }
    assert_eq!(ca.tcp.active_opens, n as u64);
    assert_eq!(cb.tcp.passive_opens, n as u64);
    assert_eq!(ca.tcp.attempt_fails + cb.tcp.attempt_fails, 0);
    assert_eq!(ca.tcp.out_rsts + cb.tcp.out_rsts, 0, "no reset");
    assert_eq!(ca.tcp.estab_resets + cb.tcp.estab_resets, 0);
    assert_eq!(cb.tcp.listen_drops, 0);
    assert_eq!((ca.curr_estab, cb.curr_estab), (0, 0));
    assert_eq!((ca.time_wait, cb.time_wait), (0, 0));
    // One side of each went through TIME_WAIT (both, after a simultaneous close).
    assert!(ca.tcp.time_wait + cb.tcp.time_wait >= n as u64);
}

// ---------------------------------------------------------------------------------------------
// A reset arriving in each state (RFC 9293 §3.10.7.3, §3.10.7.4 second step; RFC 5961 §3.2).
// ---------------------------------------------------------------------------------------------

#[test]
fn rst_in_syn_sent_refuses_the_connection() {
    let mut p = Pair::new(PairConfig::new("rss"));
    p.poll();
    let c = p.a.connect(IP_B, 81, None).unwrap();
    p.run_until("refused", Duration::from_secs(1), |p| {
        p.closed(Side::A, c).is_some()
    });
    assert_eq!(p.closed(Side::A, c), Some(Some(TcpError::Refused)));
    assert_eq!(p.a.counters().tcp.attempt_fails, 1);
    assert_eq!(p.b.counters().tcp.no_port, 1);
    assert_eq!(p.b.counters().tcp.out_rsts, 1);
    assert!(p.segs(Side::B)[0].1.is_rst());
    assert_eq!(
        p.a.counters().tcp.retrans_segs,
        0,
        "no retry after a refusal"
    );
}

#[test]
fn rst_in_syn_received_drops_the_half_open_child_quietly() {
    let mut p = Pair::new(PairConfig::new("rsr"));
    // A's ACK of the SYN-ACK is lost: B's child stays in SYN-RECEIVED.
    p.script(Side::A, Some(sim::drop_nth(0, sim::Seg::is_pure_ack)));
    p.listen(Side::B, 80, None);
    p.poll();
    let c = p.a.connect(IP_B, 80, None).unwrap();
    p.run_until("A connected", Duration::from_secs(1), |p| {
        p.a.info(c).unwrap().state == State::Established
    });
    assert_eq!(p.b.tcp().connections(), 1);
    p.a.abort(c);
    p.run_until("child gone", Duration::from_secs(1), |p| {
        p.b.tcp().connections() == 0
    });
    assert!(p.accepted.is_empty(), "never reached the accept queue");
    assert!(
        p.events.iter().all(|(_, s, _)| *s == Side::A),
        "B's application saw nothing"
    );
    // The listener still works.
    let (c2, s2) = p.connect(80, None, None);
    let mut st = [Stream::new(Side::A, c2, s2, 1000, 1)];
    p.transfer(&mut st, Duration::from_secs(1));
}

/// Brings A's connection to `state` (B's pure ACKs dropped where A must wait for one), then
/// B aborts: its RST carries `SEG.SEQ = RCV.NXT` of A. Returns how A's connection ended.
fn reset_from(name: &str, state: State) -> Option<TcpError> {
    let mut p = Pair::new(PairConfig::new(name));
    let (a, b) = p.connect(80, None, None);
    let in_state = |st: State| move |p: &mut Pair| p.a.info(a).is_some_and(|i| i.state == st);
    let lose_acks_of = |p: &mut Pair, side| {
        p.script(
            side,
            Some(Box::new(|f: &sim::Frame| {
                f.tcp.is_some_and(|s| s.is_pure_ack())
            })),
        )
    };
    let limit = Duration::from_secs(1);
    match state {
        State::Established => {}
        State::FinWait1 => {
            lose_acks_of(&mut p, Side::B);
            p.a.shutdown(a).unwrap();
        }
        State::FinWait2 => p.a.shutdown(a).unwrap(),
        State::CloseWait => p.b.shutdown(b).unwrap(),
        State::Closing => {
            // FINs cross; A's is never acknowledged.
            lose_acks_of(&mut p, Side::B);
            p.a.shutdown(a).unwrap();
            p.b.shutdown(b).unwrap();
        }
        State::LastAck => {
            p.b.shutdown(b).unwrap();
            p.run_until("A in CLOSE-WAIT", limit, in_state(State::CloseWait));
            lose_acks_of(&mut p, Side::B);
            p.a.shutdown(a).unwrap();
        }
        State::TimeWait => {
            p.a.shutdown(a).unwrap();
            p.run_until("A in FIN-WAIT-2", limit, in_state(State::FinWait2));
            // A's last ACK is lost, so B stays in LAST-ACK and can still reset.
            lose_acks_of(&mut p, Side::A);
            p.b.shutdown(b).unwrap();
        }
        s => panic!("no setup for {s:?}"),
    }
    p.run_until("A in the state", limit, in_state(state));
    assert!(
        p.b.info(b).is_some_and(|i| i.state != State::Closed),
        "B can still send"
    );
    let before = p.a.counters().tcp.estab_resets;
    p.b.abort(b);
    p.run_until("A's connection ends", limit, |p| {
        p.a.info(a).is_some_and(|i| i.state == State::Closed) || p.a.tcp().connections() == 0
    });
    let estab = p.a.counters().tcp.estab_resets - before;
    assert_eq!(
        estab,
        u64::from(matches!(state, State::Established | State::CloseWait)),
        "RFC 4022 tcpEstabResets counts ESTABLISHED and CLOSE-WAIT only"
    );
    assert_eq!(p.a.counters().curr_estab, 0);
    // Either the application learns of it, or (TIME-WAIT, whose Closed was already posted)
    // the TCB is simply gone.
    let err = p
        .closed(Side::A, a)
        .unwrap_or_else(|| panic!("{state:?}: no Closed event"));
    p.a.close(a);
    assert_eq!(p.a.tcp().connections(), 0, "{state:?}: A freed the TCB");
    err
}

#[test]
fn rst_in_synchronized_states() {
    use State::*;
    for (i, (state, want)) in [
        (Established, Some(TcpError::Reset)),
        (FinWait1, Some(TcpError::Reset)),
        (FinWait2, Some(TcpError::Reset)),
        (CloseWait, Some(TcpError::Reset)),
        // RFC 9293: in CLOSING, LAST-ACK and TIME-WAIT a reset just deletes the TCB.
        (Closing, None),
        (LastAck, None),
        (TimeWait, None),
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(reset_from(&format!("rs{i}"), state), want, "in {state:?}");
    }
}
