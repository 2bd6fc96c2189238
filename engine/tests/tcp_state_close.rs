//! State tests for closing a connection: FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT, CLOSING, LAST-ACK
//! and TIME-WAIT (RFC 9293 §3.10.7.4 for each), and a RST in every one of them (RFC 9293
//! second step, RFC 5961 §3). On the packet harness (`harness/mod.rs`).

mod harness;

use std::time::Duration;

use engine::tcp::{ConnId, Event, State, TcpError};
use engine::wire::{TcpFlags, TcpRepr};
use harness::*;

/// TIME-WAIT (2·MSL) used by these tests.
const TW: Duration = Duration::from_secs(2);

fn harness() -> Harness {
    Harness::with_config(|c| {
        c.tcp.time_wait = TW;
        c.tcp.fin_timeout = Duration::from_secs(3);
    })
}

/// The peer's RST at `rcv.nxt` (`irs + 1 + consumed`).
fn rst_at(h: &Harness, consumed: u32) -> TcpRepr {
    TcpRepr {
        seq: h.irs + 1 + consumed,
        flags: RST,
        window: 0,
        ..SEND_TEMPL
    }
}

// ---- FIN-WAIT-1 ----

#[test]
fn fin_wait_1_ack_of_fin_enters_fin_wait_2() {
    let mut h = harness();
    h.fin_wait_1();
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 2,
        ..SEND_TEMPL
    });
    h.expect_nothing();
    h.expect_no_event();
    assert_eq!(h.state(), State::FinWait2);
    assert_eq!(h.info().snd_una, (h.iss + 2).0);
}

#[test]
fn fin_wait_1_ack_of_data_only_stays() {
    let mut h = harness();
    h.established_passive();
    h.app_send(b"0123456789");
    h.app_shutdown();
    h.expect(|r, p| assert_eq!((r.flags, p.len()), (ACK | PSH, 10)));
    h.expect_repr(TcpRepr {
        seq: h.iss + 11,
        ack: h.irs + 1,
        flags: FIN | ACK,
        ..RECV_TEMPL
    });
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 11,
        ..SEND_TEMPL
    });
    assert_eq!(
        h.state(),
        State::FinWait1,
        "the FIN is not acknowledged yet"
    );
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 12,
        ..SEND_TEMPL
    });
    assert_eq!(h.state(), State::FinWait2);
}

#[test]
fn fin_wait_1_fin_enters_closing() {
    let mut h = harness();
    h.fin_wait_1();
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 1,
        flags: FIN | ACK,
        ..SEND_TEMPL
    });
    h.expect_repr(TcpRepr {
        seq: h.iss + 2,
        ack: h.irs + 2,
        ..RECV_AFTER_FIN
    });
    assert_eq!(h.state(), State::Closing);
}

#[test]
fn fin_wait_1_fin_ack_enters_time_wait() {
    let mut h = harness();
    h.fin_wait_1();
    let c = h.conn();
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 2,
        flags: FIN | ACK,
        ..SEND_TEMPL
    });
    h.expect_repr(TcpRepr {
        seq: h.iss + 2,
        ack: h.irs + 2,
        ..RECV_AFTER_FIN
    });
    h.expect_nothing();
    assert_eq!(h.state(), State::TimeWait);
    // Both directions are closed: the application hears of it now.
    assert!(h.take_events().contains(&Event::Closed(c, None)));
}

#[test]
fn fin_wait_1_data_delivered_and_acked() {
    let mut h = harness();
    h.fin_wait_1();
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 2,
            ..SEND_TEMPL
        },
        b"still talking",
    );
    h.expect_repr(TcpRepr {
        seq: h.iss + 2,
        ack: h.irs + 14,
        window: 65535 - 13,
        ..RECV_TEMPL
    });
    assert_eq!(h.state(), State::FinWait2);
    assert_eq!(h.read_all(), Ok(b"still talking".to_vec()));
}

#[test]
fn fin_wait_1_rto_retransmits_fin() {
    let mut h = harness();
    h.fin_wait_1();
    let t = h.now;
    h.advance(Duration::from_millis(200));
    let s = h.recv_seg().expect("FIN retransmitted");
    assert_eq!(s.at, t + Duration::from_millis(200));
    assert_eq!(
        (s.repr.flags, s.repr.seq, s.repr.ack),
        (FIN | ACK, h.iss + 1, h.irs + 1)
    );
}

#[test]
fn fin_wait_1_rst_resets() {
    let mut h = harness();
    h.fin_wait_1();
    let c = h.conn();
    h.send(rst_at(&h, 0));
    h.expect_nothing();
    h.expect_event(Event::Closed(c, Some(TcpError::Reset)));
    assert_eq!(h.state(), State::Closed);
}

// ---- FIN-WAIT-2 ----

#[test]
fn fin_wait_2_fin_enters_time_wait() {
    let mut h = harness();
    h.fin_wait_2();
    let c = h.conn();
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 2,
        flags: FIN | ACK,
        ..SEND_TEMPL
    });
    h.expect_repr(TcpRepr {
        seq: h.iss + 2,
        ack: h.irs + 2,
        ..RECV_AFTER_FIN
    });
    assert_eq!(h.state(), State::TimeWait);
    assert!(h.take_events().contains(&Event::Closed(c, None)));
    let mut buf = [0u8; 4];
    assert_eq!(h.stack.recv(c, &mut buf), Ok(0), "end of file");
}

/// A harness in FIN-WAIT-2 whose peer then sent `data` with `flags` at rcv.nxt.
fn fin_wait_2_receives(flags: TcpFlags, data: &[u8]) -> (Harness, ConnId) {
    let mut h = harness();
    h.fin_wait_2();
    let c = h.conn();
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 2,
            flags,
            ..SEND_TEMPL
        },
        data,
    );
    (h, c)
}

#[test]
fn time_wait_entered_with_unread_data_still_delivers_it() {
    let (mut h, c) = fin_wait_2_receives(FIN | ACK, b"last words");
    let (ack, _) = h.recv().expect("the ACK of data and FIN");
    assert_eq!(ack.ack, h.irs + 12);
    assert_eq!(h.state(), State::TimeWait);
    // Unread data keeps its queue through TIME-WAIT (only empty queues give their storage up).
    assert_eq!(h.read_all(), Ok(b"last words".to_vec()));
    let mut buf = [0u8; 4];
    assert_eq!(h.stack.recv(c, &mut buf), Ok(0), "end of file");
}

#[test]
fn fin_wait_2_data_delivered_and_acked() {
    let (mut h, c) = fin_wait_2_receives(SEND_TEMPL.flags, b"half-closed");
    h.expect_repr(TcpRepr {
        seq: h.iss + 2,
        ack: h.irs + 12,
        window: 65535 - 11,
        ..RECV_TEMPL
    });
    h.expect_event(Event::Readable(c));
    assert_eq!(h.read_all(), Ok(b"half-closed".to_vec()));
    assert_eq!(h.state(), State::FinWait2);
}

#[test]
fn fin_wait_2_rst_resets() {
    let mut h = harness();
    h.fin_wait_2();
    let c = h.conn();
    h.send(rst_at(&h, 0));
    h.expect_nothing();
    h.expect_event(Event::Closed(c, Some(TcpError::Reset)));
    assert_eq!(h.state(), State::Closed);
}

#[test]
fn fin_wait_2_rst_in_window_gets_challenge_ack() {
    let mut h = harness();
    h.fin_wait_2();
    h.send(rst_at(&h, 10));
    h.expect_repr(TcpRepr {
        seq: h.iss + 2,
        ack: h.irs + 1,
        ..RECV_TEMPL
    });
    h.expect_no_event();
    assert_eq!(h.state(), State::FinWait2);
}

#[test]
fn fin_wait_2_orphan_freed_after_fin_timeout() {
    let mut h = harness();
    h.fin_wait_1();
    h.app_close();
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 2,
        ..SEND_TEMPL
    });
    assert_eq!(h.connections(), 1);
    h.advance(Duration::from_secs(3) - Duration::from_nanos(1));
    assert_eq!(h.connections(), 1);
    h.advance(Duration::from_nanos(1));
    assert_eq!(h.connections(), 0, "Linux tcp_fin_timeout");
    h.expect_nothing();
}

#[test]
fn fin_wait_2_closed_in_state_freed_after_fin_timeout() {
    let mut h = harness();
    h.fin_wait_2();
    let t = h.now;
    h.app_close();
    h.advance_to(t + Duration::from_secs(3));
    assert_eq!(
        h.connections(),
        0,
        "an orphan does not wait forever for the FIN"
    );
}

#[test]
fn fin_wait_2_data_after_close_gets_rst() {
    let mut h = harness();
    h.fin_wait_2();
    h.app_close();
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 2,
            ..SEND_TEMPL
        },
        b"nobody reads this",
    );
    // RFC 9293 §3.10.4 / Linux TCPAbortOnData: the application is gone.
    h.expect_repr(TcpRepr {
        seq: h.iss + 2,
        ack: h.irs + 1,
        flags: RST | ACK,
        window: 0,
        ..RECV_TEMPL
    });
    assert_eq!(h.connections(), 0);
    assert_eq!(h.stack.counters().get("TcpExtTCPAbortOnData"), Some(1));
}

// ---- CLOSE-WAIT ----

#[test]
fn close_wait_send_still_allowed() {
    let mut h = harness();
    h.close_wait();
    h.app_send(b"reply");
    h.expect_data(
        TcpRepr {
            seq: h.iss + 1,
            ack: h.irs + 2,
            flags: ACK | PSH,
            ..RECV_AFTER_FIN
        },
        b"reply",
    );
}

#[test]
fn close_wait_shutdown_sends_fin_enters_last_ack() {
    let mut h = harness();
    h.close_wait();
    h.app_shutdown();
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 2,
        flags: FIN | ACK,
        ..RECV_AFTER_FIN
    });
    assert_eq!(h.state(), State::LastAck);
}

#[test]
fn close_wait_retransmitted_fin_gets_ack() {
    let mut h = harness();
    h.close_wait();
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 1,
        flags: FIN | ACK,
        ..SEND_TEMPL
    });
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 2,
        // A duplicate FIN is reported like duplicate data (RFC 2883; Linux tcp_send_dupack).
        sack: sack(&[(h.irs + 1, h.irs + 2)]),
        ..RECV_AFTER_FIN
    });
    assert_eq!(h.state(), State::CloseWait);
}

#[test]
fn close_wait_rst_resets() {
    let mut h = harness();
    h.close_wait();
    let c = h.conn();
    h.take_events();
    h.send(rst_at(&h, 1));
    h.expect_nothing();
    h.expect_event(Event::Closed(c, Some(TcpError::Reset)));
    assert_eq!(h.state(), State::Closed);
}

// ---- CLOSING ----

#[test]
fn closing_ack_enters_time_wait() {
    let mut h = harness();
    h.closing();
    let c = h.conn();
    h.send(TcpRepr {
        seq: h.irs + 2,
        ack: h.iss + 2,
        ..SEND_TEMPL
    });
    h.expect_nothing();
    assert_eq!(h.state(), State::TimeWait);
    assert!(h.take_events().contains(&Event::Closed(c, None)));
}

#[test]
fn closing_rto_retransmits_fin() {
    let mut h = harness();
    h.closing();
    h.advance(Duration::from_millis(200));
    h.expect(|r, _| {
        assert_eq!(r.flags, FIN | ACK);
        assert_eq!(r.ack, REMOTE_ISS + 2);
    });
    assert_eq!(h.state(), State::Closing);
}

#[test]
fn closing_rst_closes() {
    let mut h = harness();
    h.closing();
    let c = h.conn();
    h.take_events();
    h.send(rst_at(&h, 1));
    h.expect_nothing();
    // RFC 9293: enter CLOSED, delete the TCB; no error to report, both sides had closed.
    h.expect_event(Event::Closed(c, None));
    assert_eq!(h.state(), State::Closed);
}

// ---- LAST-ACK ----

#[test]
fn last_ack_ack_closes() {
    let mut h = harness();
    h.last_ack();
    let c = h.conn();
    h.take_events();
    h.send(TcpRepr {
        seq: h.irs + 2,
        ack: h.iss + 2,
        ..SEND_TEMPL
    });
    h.expect_nothing();
    h.expect_event(Event::Closed(c, None));
    assert_eq!(h.state(), State::Closed);
    // The handle is the only thing left; closing it frees the connection.
    assert_eq!(h.connections(), 1);
    h.app_close();
    assert_eq!(h.connections(), 0);
}

#[test]
fn last_ack_ack_frees_orphan() {
    let mut h = harness();
    h.close_wait();
    h.app_close();
    h.expect(|r, _| assert_eq!(r.flags, FIN | ACK));
    assert_eq!(h.connections(), 1);
    h.send(TcpRepr {
        seq: h.irs + 2,
        ack: h.iss + 2,
        ..SEND_TEMPL
    });
    h.expect_nothing();
    assert_eq!(h.connections(), 0, "connection freed");
    // Its tuple is free: the peer's late ACK draws a RST.
    h.send(TcpRepr {
        seq: h.irs + 2,
        ack: h.iss + 2,
        ..SEND_TEMPL
    });
    h.expect(|r, _| assert_eq!(r.flags, RST));
}

#[test]
fn last_ack_retransmitted_fin_gets_ack() {
    let mut h = harness();
    h.last_ack();
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 1,
        flags: FIN | ACK,
        ..SEND_TEMPL
    });
    h.expect_repr(TcpRepr {
        seq: h.iss + 2,
        ack: h.irs + 2,
        // A duplicate FIN is reported like duplicate data (RFC 2883; Linux tcp_send_dupack).
        sack: sack(&[(h.irs + 1, h.irs + 2)]),
        ..RECV_AFTER_FIN
    });
    assert_eq!(h.state(), State::LastAck);
}

#[test]
fn last_ack_rst_closes() {
    let mut h = harness();
    h.last_ack();
    let c = h.conn();
    h.take_events();
    h.send(rst_at(&h, 1));
    h.expect_nothing();
    h.expect_event(Event::Closed(c, None));
    assert_eq!(h.state(), State::Closed);
}

// ---- TIME-WAIT ----

#[test]
fn time_wait_expires_after_exactly_time_wait() {
    let mut h = harness();
    h.time_wait();
    let entered = h.now;
    h.advance_to(entered + TW - Duration::from_nanos(1));
    assert_eq!(h.state(), State::TimeWait);
    h.advance_to(entered + TW);
    assert_eq!(h.state(), State::Closed);
    h.expect_nothing();
    h.app_close();
    assert_eq!(h.connections(), 0);
}

#[test]
fn time_wait_orphan_freed_at_expiry() {
    let mut h = harness();
    h.time_wait();
    let entered = h.now;
    h.app_close();
    assert_eq!(h.connections(), 1, "TIME-WAIT outlives the handle");
    assert_eq!(h.stack.counters().get("TcpExtTimeWaitNow"), Some(1));
    h.advance_to(entered + TW);
    assert_eq!(h.connections(), 0);
    assert_eq!(h.stack.counters().get("TcpExtTimeWaitNow"), Some(0));
}

#[test]
fn time_wait_retransmitted_fin_gets_ack_and_restarts_timer() {
    let mut h = harness();
    h.time_wait();
    let entered = h.now;
    h.advance(TW / 2);
    let again = h.now;
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 2,
        flags: FIN | ACK,
        ..SEND_TEMPL
    });
    h.expect_repr(TcpRepr {
        seq: h.iss + 2,
        ack: h.irs + 2,
        // A duplicate FIN is reported like duplicate data (RFC 2883; Linux tcp_send_dupack).
        sack: sack(&[(h.irs + 1, h.irs + 2)]),
        ..RECV_AFTER_FIN
    });
    // RFC 9293 §3.10.7.4: acknowledge it and restart the 2·MSL timeout.
    h.advance_to(entered + TW);
    assert_eq!(h.state(), State::TimeWait, "restarted");
    h.advance_to(again + TW - Duration::from_nanos(1));
    assert_eq!(h.state(), State::TimeWait);
    h.advance_to(again + TW);
    assert_eq!(h.state(), State::Closed);
}

#[test]
fn time_wait_syn_with_newer_timestamp_reopens() {
    let mut h = harness();
    h.time_wait();
    let l = h.listener.unwrap();
    h.app_close();
    h.take_events();
    h.advance(Duration::from_millis(500));
    // RFC 6191: a SYN whose timestamp is newer than the last one seen starts a new
    // incarnation, even with a sequence number below RCV.NXT.
    let new_irs = h.irs - 100_000;
    let syn = TcpRepr {
        seq: new_irs,
        ..h.syn_repr()
    };
    h.send(syn);
    let sa = h.expect(|r, _| {
        assert_eq!(r.flags, SYN | ACK);
        assert_eq!(r.ack, new_irs + 1);
        assert_eq!(r.timestamps.map(|t| t.1), syn.timestamps.map(|t| t.0));
    });
    assert_eq!(h.connections(), 1, "the TIME-WAIT connection made way");
    assert_eq!(h.only_state(), State::SynReceived);
    assert_eq!(h.stack.counters().get("TcpExtTWRecycled"), Some(1));
    h.send(TcpRepr {
        seq: new_irs + 1,
        ack: sa.seq + 1,
        ..SEND_TEMPL
    });
    h.expect_nothing();
    h.expect_event(Event::Acceptable(l));
    let c = h.stack.accept(l).expect("accepted");
    assert_eq!(h.stack.info(c).unwrap().rcv_nxt, (new_irs + 1).0);
}

#[test]
fn time_wait_syn_with_old_timestamp_gets_ack() {
    let mut h = harness();
    h.time_wait();
    h.advance(Duration::from_millis(500));
    let syn = TcpRepr {
        seq: h.irs + 100_000,
        timestamps: Some((PEER_TS_BASE, 0)),
        ..h.syn_repr()
    };
    h.send(syn);
    // Not a new incarnation: an old duplicate, answered with an ACK (PAWS, RFC 7323 §5.3).
    h.expect_repr(TcpRepr {
        seq: h.iss + 2,
        ack: h.irs + 2,
        ..RECV_AFTER_FIN
    });
    assert_eq!(h.state(), State::TimeWait);
}

#[test]
fn time_wait_rst_closes() {
    let mut h = harness();
    h.time_wait();
    h.take_events();
    h.send(rst_at(&h, 1));
    h.expect_nothing();
    // The Closed event was posted when TIME-WAIT began; nothing more to say.
    h.expect_no_event();
    assert_eq!(h.state(), State::Closed);
}

#[test]
fn time_wait_syn_without_timestamps_above_rcv_nxt_reopens() {
    let mut h = harness();
    h.peer_opts.timestamps = false;
    h.time_wait();
    assert!(!h.info().timestamps);
    h.app_close();
    // RFC 9293 §3.10.7.4 / RFC 1122 §4.2.2.13: without timestamps, a SYN beyond RCV.NXT may
    // reopen the connection.
    let syn = TcpRepr {
        seq: h.irs + 100_000,
        ..h.syn_repr()
    };
    h.send(syn);
    h.expect(|r, _| {
        assert_eq!(r.flags, SYN | ACK);
        assert_eq!(r.ack, REMOTE_ISS + 100_001);
    });
    assert_eq!(h.only_state(), State::SynReceived);
}

#[test]
fn time_wait_syn_without_timestamps_below_rcv_nxt_gets_ack() {
    let mut h = harness();
    h.peer_opts.timestamps = false;
    h.time_wait();
    let syn = TcpRepr {
        seq: h.irs - 100_000,
        ..h.syn_repr()
    };
    h.send(syn);
    h.expect_repr(TcpRepr {
        seq: h.iss + 2,
        ack: h.irs + 2,
        ..RECV_AFTER_FIN
    });
    assert_eq!(h.state(), State::TimeWait);
}
