//! State tests for opening a connection: CLOSED (segments to a port nobody listens on),
//! LISTEN, SYN-SENT and SYN-RECEIVED, in the order of RFC 9293 §3.10.7.1-§3.10.7.4, on the
//! packet harness (`harness/mod.rs`).

mod harness;

use std::time::Duration;

use engine::tcp::{Event, State, TcpError};
use engine::wire::{SeqNum, TcpRepr};
use harness::*;

/// The RST the stack sends in answer to a segment: no options, window 0.
const RST_TEMPL: TcpRepr = TcpRepr {
    window: 0,
    flags: RST,
    ..SEND_TEMPL
};

// ---- CLOSED (RFC 9293 §3.10.7.1) ----

#[test]
fn closed_syn_gets_rst_ack() {
    let mut h = Harness::new();
    h.send(TcpRepr {
        seq: h.irs,
        flags: SYN,
        mss: Some(1460),
        ..SEND_TEMPL
    });
    // No ACK on the SYN: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
    h.expect_repr(TcpRepr {
        seq: SeqNum(0),
        ack: h.irs + 1,
        flags: RST | ACK,
        ..RST_TEMPL
    });
    h.expect_nothing();
    assert_eq!(h.connections(), 0);
    assert_eq!(h.stack.counters().get("TcpOutRsts"), Some(1));
}

#[test]
fn closed_ack_gets_rst_with_seq_of_ack() {
    let mut h = Harness::new();
    h.send(TcpRepr {
        seq: h.irs + 5,
        ack: SeqNum(777_777),
        ..SEND_TEMPL
    });
    // <SEQ=SEG.ACK><CTL=RST>.
    h.expect_repr(TcpRepr {
        seq: SeqNum(777_777),
        ..RST_TEMPL
    });
    h.expect_nothing();
}

#[test]
fn closed_data_without_ack_gets_rst_ack_covering_data() {
    let mut h = Harness::new();
    h.send_data(
        TcpRepr {
            seq: h.irs,
            flags: PSH,
            ..SEND_TEMPL
        },
        b"hello",
    );
    h.expect_repr(TcpRepr {
        seq: SeqNum(0),
        ack: h.irs + 5,
        flags: RST | ACK,
        ..RST_TEMPL
    });
}

#[test]
fn closed_fin_counts_one_in_rst_ack() {
    let mut h = Harness::new();
    h.send_data(
        TcpRepr {
            seq: h.irs,
            flags: FIN,
            ..SEND_TEMPL
        },
        b"abc",
    );
    h.expect_repr(TcpRepr {
        seq: SeqNum(0),
        ack: h.irs + 4,
        flags: RST | ACK,
        ..RST_TEMPL
    });
}

#[test]
fn closed_rst_gets_nothing() {
    let mut h = Harness::new();
    h.send(TcpRepr {
        seq: h.irs,
        flags: RST,
        ..SEND_TEMPL
    });
    h.send(TcpRepr {
        seq: h.irs,
        ack: SeqNum(5),
        flags: RST | ACK,
        ..SEND_TEMPL
    });
    h.expect_nothing();
    assert_eq!(h.stack.counters().get("TcpOutRsts"), Some(0));
}

#[test]
fn closed_port_next_to_a_listener_gets_rst() {
    let mut h = Harness::new();
    h.listen(8, None);
    h.send(TcpRepr {
        dst_port: LOCAL_PORT + 1,
        seq: h.irs,
        flags: SYN,
        ..SEND_TEMPL
    });
    h.expect_repr(TcpRepr {
        src_port: LOCAL_PORT + 1,
        seq: SeqNum(0),
        ack: h.irs + 1,
        flags: RST | ACK,
        ..RST_TEMPL
    });
    assert_eq!(h.connections(), 0);
}

// ---- LISTEN (RFC 9293 §3.10.7.2) ----

#[test]
fn listen_rst_ignored() {
    let mut h = Harness::new();
    h.listen(8, None);
    h.send(TcpRepr {
        seq: h.irs,
        flags: RST,
        ..SEND_TEMPL
    });
    h.expect_nothing();
    assert_eq!(h.connections(), 0);
}

#[test]
fn listen_ack_gets_rst() {
    let mut h = Harness::new();
    h.listen(8, None);
    h.send(TcpRepr {
        seq: h.irs,
        ack: SeqNum(4242),
        ..SEND_TEMPL
    });
    h.expect_repr(TcpRepr {
        seq: SeqNum(4242),
        ..RST_TEMPL
    });
    assert_eq!(h.connections(), 0);
}

#[test]
fn listen_syn_ack_gets_rst() {
    // A SYN-ACK is an ACK first: RST, no connection.
    let mut h = Harness::new();
    h.listen(8, None);
    h.send(TcpRepr {
        seq: h.irs,
        ack: SeqNum(99),
        flags: SYN | ACK,
        ..SEND_TEMPL
    });
    h.expect_repr(TcpRepr {
        seq: SeqNum(99),
        ..RST_TEMPL
    });
    assert_eq!(h.connections(), 0);
}

#[test]
fn listen_fin_without_syn_dropped() {
    let mut h = Harness::new();
    h.listen(8, None);
    h.send(TcpRepr {
        seq: h.irs,
        flags: FIN,
        ..SEND_TEMPL
    });
    h.expect_nothing();
    assert_eq!(h.connections(), 0);
}

#[test]
fn listen_syn_gets_syn_ack_with_options() {
    let mut h = Harness::new();
    h.peer_opts = PeerOpts {
        mss: Some(1400),
        window_scale: Some(9),
        ..PeerOpts::default()
    };
    h.listen(8, None);
    let syn = h.syn_repr();
    let tsval = syn.timestamps.unwrap().0;
    h.send(syn);
    let sa = h.expect(|_, _| {});
    h.iss = sa.seq;
    // ISS chosen by the stack; everything else is determined: our MSS (MTU 1500 - 40), our
    // window-scale shift for a 1 MiB buffer (7), SACK-permitted, the peer's TSval echoed,
    // an unscaled window on the SYN-ACK (RFC 7323 §2.2).
    assert_eq!(
        sa,
        TcpRepr {
            src_port: LOCAL_PORT,
            dst_port: REMOTE_PORT,
            seq: h.iss,
            ack: h.irs + 1,
            flags: SYN | ACK,
            window: 65535,
            mss: Some(LOCAL_MSS),
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: Some((sa.timestamps.unwrap().0, tsval)),
            ..SEND_TEMPL
        }
    );
    assert_eq!(h.only_state(), State::SynReceived);
    // Completing the handshake shows what was negotiated.
    h.ts = true;
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 1,
        window: 1000,
        ..SEND_TEMPL
    });
    let c = h.only_conn();
    let info = h.stack.info(c).unwrap();
    assert_eq!(info.state, State::Established);
    assert_eq!(info.mss, 1400 - 12, "peer's MSS less the timestamp option");
    assert_eq!((info.snd_wscale, info.rcv_wscale), (9, 7));
    assert_eq!(info.snd_wnd, 1000 << 9, "window scaled after the handshake");
    assert!(info.timestamps && info.sack);
}

#[test]
fn listen_syn_without_options_gets_syn_ack_with_mss_only() {
    let mut h = Harness::new();
    h.peer_opts = PeerOpts {
        mss: None,
        window_scale: None,
        sack_permitted: false,
        timestamps: false,
        window: 8192,
    };
    h.listen(8, None);
    let syn = h.syn_repr();
    h.send(syn);
    let sa = h.expect(|_, _| {});
    h.iss = sa.seq;
    h.expect_nothing();
    assert_eq!(
        sa,
        TcpRepr {
            src_port: LOCAL_PORT,
            dst_port: REMOTE_PORT,
            seq: h.iss,
            ack: h.irs + 1,
            flags: SYN | ACK,
            window: 65535,
            mss: Some(LOCAL_MSS),
            ..SEND_TEMPL
        }
    );
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 1,
        window: 8192,
        ..SEND_TEMPL
    });
    let info = h.stack.info(h.only_conn()).unwrap();
    assert_eq!(info.state, State::Established);
    assert_eq!(
        info.mss, 536,
        "RFC 9293 §3.7.1 default MSS without the option"
    );
    assert_eq!((info.snd_wscale, info.rcv_wscale), (0, 0));
    assert!(!info.timestamps && !info.sack);
    assert_eq!(info.snd_wnd, 8192);
}

#[test]
fn listen_backlog_overflow_drops_syn() {
    let mut h = Harness::new();
    h.listen(1, None);
    let syn = h.syn_repr();
    h.send(syn);
    h.expect(|r, _| assert_eq!(r.flags, SYN | ACK));
    // A second peer (another source port) finds the SYN queue full: dropped, no answer.
    h.send(TcpRepr {
        src_port: REMOTE_PORT + 1,
        ..syn
    });
    h.expect_nothing();
    assert_eq!(h.connections(), 1);
    assert_eq!(h.stack.counters().get("TcpExtListenDrops"), Some(1));
}

#[test]
fn listen_accept_queue_full_drops_completing_ack() {
    let mut h = Harness::new();
    let l = h.listen(2, None);
    h.ts = true;
    let syn = h.syn_repr();
    // Three peers (source ports P, P+1, P+2). The first completes and waits unaccepted.
    let mut synack = Vec::new();
    for (i, complete) in [(0u16, true), (1, false), (2, false)] {
        h.send(TcpRepr {
            src_port: REMOTE_PORT + i,
            ..syn
        });
        let sa = h.expect(|r, _| assert_eq!(r.flags, SYN | ACK));
        synack.push(sa.seq);
        if complete {
            h.send(TcpRepr {
                src_port: REMOTE_PORT + i,
                seq: h.irs + 1,
                ack: sa.seq + 1,
                ..SEND_TEMPL
            });
            h.expect_event(Event::Acceptable(l));
        }
    }
    let ack = |i: u16| TcpRepr {
        src_port: REMOTE_PORT + i,
        seq: REMOTE_ISS + 1,
        ack: synack[usize::from(i)] + 1,
        ..SEND_TEMPL
    };
    // The second fills the accept queue (2); the third's ACK finds it full: dropped, the
    // child stays in SYN-RECEIVED (Linux: the peer retransmits, ListenOverflows counts it).
    h.send(ack(1));
    h.send(ack(2));
    h.expect_nothing();
    h.expect_no_event();
    assert_eq!(h.stack.counters().get("TcpExtListenOverflows"), Some(1));
    assert_eq!(h.connections(), 3);
    // Once one is accepted, the retransmitted ACK gets in.
    let c1 = h.stack.accept(l).unwrap();
    assert_eq!(h.stack.info(c1).unwrap().remote.port(), REMOTE_PORT);
    h.send(ack(2));
    h.expect_nothing();
    let c2 = h.stack.accept(l).unwrap();
    let c3 = h.stack.accept(l).unwrap();
    assert_eq!(h.stack.info(c2).unwrap().remote.port(), REMOTE_PORT + 1);
    let i3 = h.stack.info(c3).unwrap();
    assert_eq!(
        (i3.remote.port(), i3.state),
        (REMOTE_PORT + 2, State::Established)
    );
}

#[test]
fn listen_syn_dropped_while_accept_queue_full() {
    // Linux tcp_conn_request: a SYN is dropped while the accept queue is full.
    let mut h = Harness::new();
    let l = h.listen(1, None);
    h.ts = true;
    let syn = h.syn_repr();
    h.send(syn);
    let sa = h.expect(|r, _| assert_eq!(r.flags, SYN | ACK));
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: sa.seq + 1,
        ..SEND_TEMPL
    });
    h.expect_event(Event::Acceptable(l));
    h.send(TcpRepr {
        src_port: REMOTE_PORT + 1,
        ..syn
    });
    h.expect_nothing();
    assert_eq!(h.connections(), 1);
    assert_eq!(h.stack.counters().get("TcpExtListenDrops"), Some(1));
}

// ---- SYN-SENT (RFC 9293 §3.10.7.3) ----

#[test]
fn syn_sent_syn_carries_options() {
    let mut h = Harness::new();
    let syn = h.syn_sent();
    let tsval = syn.timestamps.expect("timestamps offered").0;
    assert_eq!(
        syn,
        TcpRepr {
            src_port: h.local_port,
            dst_port: REMOTE_PORT,
            seq: h.iss,
            flags: SYN,
            window: 65535,
            mss: Some(LOCAL_MSS),
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: Some((tsval, 0)),
            ..SEND_TEMPL
        }
    );
    assert!(
        (32768..=60999).contains(&h.local_port),
        "ephemeral port in range"
    );
}

#[test]
fn syn_sent_bad_ack_gets_rst() {
    let mut h = Harness::new();
    h.syn_sent();
    // SEG.ACK =< ISS: unacceptable.
    h.send(TcpRepr {
        seq: h.irs,
        ack: h.iss,
        flags: SYN | ACK,
        ..SEND_TEMPL
    });
    h.expect_repr(TcpRepr {
        seq: h.iss,
        ..RST_TEMPL
    });
    // SEG.ACK > SND.NXT: unacceptable.
    h.send(TcpRepr {
        seq: h.irs,
        ack: h.iss + 2,
        ..SEND_TEMPL
    });
    h.expect_repr(TcpRepr {
        seq: h.iss + 2,
        ..RST_TEMPL
    });
    assert_eq!(h.state(), State::SynSent);
    h.expect_no_event();
}

#[test]
fn syn_sent_rst_with_good_ack_refused() {
    let mut h = Harness::new();
    h.syn_sent();
    h.send(TcpRepr {
        seq: SeqNum(0),
        ack: h.iss + 1,
        flags: RST | ACK,
        window: 0,
        ..SEND_TEMPL
    });
    h.expect_nothing();
    let c = h.conn();
    h.expect_event(Event::Closed(c, Some(TcpError::Refused)));
    assert_eq!(h.state(), State::Closed);
    assert_eq!(h.stack.counters().get("TcpAttemptFails"), Some(1));
    // The connection is gone from the flow table: its port answers with RST now.
    h.send(TcpRepr {
        seq: h.irs,
        ack: h.iss + 1,
        ..SEND_TEMPL
    });
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ..RST_TEMPL
    });
}

#[test]
fn syn_sent_rst_without_ack_ignored() {
    let mut h = Harness::new();
    h.syn_sent();
    h.send(TcpRepr {
        seq: h.irs,
        flags: RST,
        ..SEND_TEMPL
    });
    h.expect_nothing();
    h.expect_no_event();
    assert_eq!(h.state(), State::SynSent);
}

#[test]
fn syn_sent_rst_with_bad_ack_ignored() {
    let mut h = Harness::new();
    h.syn_sent();
    h.send(TcpRepr {
        seq: h.irs,
        ack: h.iss + 7,
        flags: RST | ACK,
        ..SEND_TEMPL
    });
    h.expect_nothing();
    h.expect_no_event();
    assert_eq!(h.state(), State::SynSent);
}

#[test]
fn syn_sent_ack_without_syn_dropped() {
    let mut h = Harness::new();
    h.syn_sent();
    h.send(TcpRepr {
        seq: h.irs,
        ack: h.iss + 1,
        ..SEND_TEMPL
    });
    h.expect_nothing();
    h.expect_no_event();
    assert_eq!(h.state(), State::SynSent);
}

#[test]
fn syn_sent_syn_ack_establishes_and_acks() {
    let mut h = Harness::new();
    let syn = h.syn_sent();
    let sa = TcpRepr {
        mss: Some(1200),
        window: 30000,
        ..h.syn_ack_repr(&syn)
    };
    let peer_ts = sa.timestamps.unwrap().0;
    h.send(sa);
    h.ts = true;
    let ack = h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 1,
        ..RECV_TEMPL
    });
    assert_eq!(ack.timestamps.map(|t| t.1), Some(peer_ts), "TSecr echoes");
    h.expect_nothing();
    let c = h.conn();
    h.expect_event(Event::Connected(c));
    let info = h.info();
    assert_eq!(info.state, State::Established);
    assert_eq!(info.mss, 1200 - 12);
    assert_eq!(info.snd_wnd, 30000);
    assert_eq!(
        (info.snd_wscale, info.rcv_wscale),
        (0, 0),
        "peer sent no WS"
    );
    assert_eq!(info.snd_una, (h.iss + 1).0);
    assert_eq!(info.rcv_nxt, (h.irs + 1).0);
}

#[test]
fn syn_sent_syn_ack_with_window_scale_scales_both_ways() {
    let mut h = Harness::new();
    h.peer_opts.window_scale = Some(2);
    let syn = h.syn_sent();
    let sa = TcpRepr {
        window: 1000,
        ..h.syn_ack_repr(&syn)
    };
    assert_eq!(sa.window_scale, Some(2));
    h.send(sa);
    h.ts = true;
    // Our window, scaled by our shift (7): 1 MiB >> 7.
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 1,
        window: 8192,
        ..RECV_TEMPL
    });
    let info = h.info();
    assert_eq!((info.snd_wscale, info.rcv_wscale), (2, 7));
    assert_eq!(info.snd_wnd, 1000, "the SYN-ACK's window is not scaled");
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 1,
        window: 1000,
        ..SEND_TEMPL
    });
    assert_eq!(h.info().snd_wnd, 4000);
}

#[test]
fn syn_sent_syn_ack_with_data_delivered() {
    let mut h = Harness::new();
    let syn = h.syn_sent();
    let sa = h.syn_ack_repr(&syn);
    h.send_data(sa, b"banner");
    h.ts = true;
    // The text after the SYN is taken at the text step (RFC 9293 §3.10.7.3, sixth).
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 7,
        window: 65535 - 6,
        ..RECV_TEMPL
    });
    let c = h.conn();
    h.expect_event(Event::Connected(c));
    assert_eq!(h.read_all(), Ok(b"banner".to_vec()));
}

#[test]
fn syn_sent_abort_sends_nothing() {
    let mut h = Harness::new();
    h.syn_sent();
    h.app_abort();
    // Not synchronized: no RST (RFC 9293 §3.10.5), the TCB is deleted.
    h.expect_nothing();
    assert_eq!(h.connections(), 0);
    // A late SYN-ACK finds no connection.
    h.send(TcpRepr {
        seq: h.irs,
        ack: h.iss + 1,
        flags: SYN | ACK,
        ..SEND_TEMPL
    });
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ..RST_TEMPL
    });
}

#[test]
fn syn_sent_syn_simultaneous_open_syn_ack_same_iss() {
    let mut h = Harness::new();
    h.syn_sent();
    let syn = TcpRepr {
        src_port: REMOTE_PORT,
        dst_port: h.local_port,
        ..h.syn_repr()
    };
    h.send(syn);
    h.ts = true;
    let iss = h.iss;
    h.expect(|r, p| {
        assert!(p.is_empty());
        assert_eq!(r.flags, SYN | ACK);
        assert_eq!(r.seq, iss, "same ISS as our SYN");
        assert_eq!(r.ack, REMOTE_ISS + 1);
        assert_eq!(r.mss, Some(LOCAL_MSS));
        assert!(r.sack_permitted);
        assert_eq!(r.timestamps.map(|t| t.1), syn.timestamps.map(|t| t.0));
    });
    assert_eq!(h.state(), State::SynReceived);
    h.expect_no_event();
    // The peer's SYN-ACK (for our SYN) completes it.
    h.send(TcpRepr {
        seq: h.irs,
        ack: h.iss + 1,
        flags: SYN | ACK,
        ..SEND_TEMPL
    });
    // It repeats the SYN already received (old news) but acknowledges ours.
    let c = h.conn();
    assert_eq!(h.state(), State::Established);
    h.expect_event(Event::Connected(c));
}

#[test]
fn syn_sent_simultaneous_open_ack_establishes() {
    let mut h = Harness::new();
    h.syn_sent();
    let syn = h.syn_repr();
    h.send(syn);
    h.ts = true;
    h.expect(|r, _| assert_eq!(r.flags, SYN | ACK));
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 1,
        ..SEND_TEMPL
    });
    h.expect_nothing();
    let c = h.conn();
    h.expect_event(Event::Connected(c));
    assert_eq!(h.state(), State::Established);
}

#[test]
fn syn_sent_rto_retransmits_syn_with_backoff() {
    let mut h = Harness::new();
    let syn = h.syn_sent();
    let t0 = h.now;
    h.advance(Duration::from_millis(999));
    h.expect_nothing();
    h.advance(Duration::from_millis(1));
    let s = h
        .recv_seg()
        .expect("SYN retransmitted after the initial RTO");
    assert_eq!(s.at, t0 + Duration::from_secs(1));
    assert_eq!((s.repr.flags, s.repr.seq), (SYN, syn.seq));
    // RFC 6298 §5.5: the next one after twice as long.
    h.advance(Duration::from_secs(2));
    let s = h.recv_seg().expect("second retransmission");
    assert_eq!(s.at, t0 + Duration::from_secs(3));
    assert_eq!(s.repr.seq, syn.seq);
}

#[test]
fn syn_sent_no_answer_times_out() {
    let mut h = Harness::with_config(|c| c.tcp.syn_retries = 2);
    h.syn_sent();
    // 1 s + 2 s + 4 s: two retransmissions, then give up.
    h.advance(Duration::from_secs(7));
    assert_eq!(h.pending(), 2);
    h.clear_inbox();
    let c = h.conn();
    h.expect_event(Event::Closed(c, Some(TcpError::TimedOut)));
    assert_eq!(h.state(), State::Closed);
}

// ---- SYN-RECEIVED (RFC 9293 §3.10.7.4 for the state) ----

#[test]
fn syn_received_ack_establishes_listener_acceptable() {
    let mut h = Harness::new();
    h.syn_received();
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 1,
        ..SEND_TEMPL
    });
    h.expect_nothing();
    let l = h.listener.unwrap();
    h.expect_event(Event::Acceptable(l));
    h.expect_no_event();
    assert_eq!(h.only_state(), State::Established);
    let c = h.stack.accept(l).expect("accept");
    assert_eq!(
        h.stack.info(c).unwrap().remote,
        (REMOTE_IP, REMOTE_PORT).into()
    );
    assert_eq!(h.stack.accept(l), None);
}

#[test]
fn syn_received_ack_with_data_establishes_and_delivers() {
    let mut h = Harness::new();
    h.syn_received();
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 1,
            flags: ACK | PSH,
            ..SEND_TEMPL
        },
        b"GET /",
    );
    // The right edge stays where the SYN-ACK put it (no shrinking, RFC 9293 §3.8.6.2.2), and
    // moves only by an MSS or more: 5 bytes less room.
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 6,
        window: 65535 - 5,
        ..RECV_TEMPL
    });
    let l = h.listener.unwrap();
    h.expect_event(Event::Acceptable(l));
    h.conn = h.stack.accept(l);
    h.poll();
    assert_eq!(h.read_all(), Ok(b"GET /".to_vec()));
}

#[test]
fn syn_received_bad_ack_gets_rst() {
    let mut h = Harness::new();
    h.syn_received();
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 5,
        ..SEND_TEMPL
    });
    h.expect_repr(TcpRepr {
        seq: h.iss + 5,
        ..RST_TEMPL
    });
    h.expect_no_event();
    assert_eq!(h.only_state(), State::SynReceived);
}

#[test]
fn syn_received_rst_returns_to_listen() {
    let mut h = Harness::new();
    h.syn_received();
    h.send(TcpRepr {
        seq: h.irs + 1,
        flags: RST,
        ..SEND_TEMPL
    });
    h.expect_nothing();
    h.expect_no_event();
    assert_eq!(h.connections(), 0, "child gone");
    // The listener still works: the same SYN opens a new child.
    let syn = h.syn_repr();
    h.send(syn);
    h.expect(|r, _| assert_eq!(r.flags, SYN | ACK));
    assert_eq!(h.only_state(), State::SynReceived);
}

#[test]
fn syn_received_rst_out_of_window_ignored() {
    let mut h = Harness::new();
    h.syn_received();
    h.send(TcpRepr {
        seq: h.irs + 1 + 200_000,
        flags: RST,
        ..SEND_TEMPL
    });
    h.expect_nothing();
    assert_eq!(h.only_state(), State::SynReceived);
}

#[test]
fn syn_received_simultaneous_open_rst_refused() {
    let mut h = Harness::new();
    h.syn_sent();
    let syn = h.syn_repr();
    h.send(syn);
    h.ts = true;
    h.expect(|r, _| assert_eq!(r.flags, SYN | ACK));
    assert_eq!(h.state(), State::SynReceived);
    h.send(TcpRepr {
        seq: h.irs + 1,
        flags: RST,
        ..SEND_TEMPL
    });
    h.expect_nothing();
    // Came from SYN-SENT: the connection was refused (RFC 9293 §3.10.7.4, second step).
    let c = h.conn();
    h.expect_event(Event::Closed(c, Some(TcpError::Refused)));
    assert_eq!(h.state(), State::Closed);
}

#[test]
fn syn_received_syn_in_window_returns_to_listen() {
    let mut h = Harness::new();
    h.syn_received();
    // RFC 9293 §3.10.7.4, fourth step, SYN-RECEIVED of a passive open: back to LISTEN.
    h.send(TcpRepr {
        seq: h.irs + 10,
        ..h.syn_repr()
    });
    h.expect_nothing();
    h.expect_no_event();
    assert_eq!(h.connections(), 0);
}

#[test]
fn syn_received_retransmitted_syn_gets_syn_ack_again() {
    let mut h = Harness::new();
    let sa = h.syn_received();
    let syn = h.syn_repr();
    h.send(syn);
    h.expect(|r, _| {
        assert_eq!(r.flags, SYN | ACK);
        assert_eq!((r.seq, r.ack), (sa.seq, sa.ack), "same SYN-ACK");
        assert_eq!(r.mss, sa.mss);
        assert_eq!(r.sack_permitted, sa.sack_permitted);
    });
    h.expect_nothing();
    assert_eq!(h.only_state(), State::SynReceived);
}

#[test]
fn syn_received_rto_retransmits_syn_ack() {
    let mut h = Harness::new();
    let sa = h.syn_received();
    let t0 = h.now;
    h.advance(Duration::from_secs(1));
    let s = h.recv_seg().expect("SYN-ACK retransmitted");
    assert_eq!(s.at, t0 + Duration::from_secs(1));
    assert_eq!(
        (s.repr.flags, s.repr.seq, s.repr.ack),
        (SYN | ACK, sa.seq, sa.ack)
    );
}

#[test]
fn syn_received_unanswered_child_dropped_silently() {
    let mut h = Harness::with_config(|c| c.tcp.synack_retries = 1);
    h.syn_received();
    h.advance(Duration::from_secs(1));
    h.expect(|r, _| assert_eq!(r.flags, SYN | ACK));
    h.advance(Duration::from_secs(2));
    h.expect_nothing();
    h.expect_no_event();
    assert_eq!(h.connections(), 0);
}
