//! State tests for ESTABLISHED (RFC 9293 §3.10.7.4 in its order: PAWS, sequence check, RST,
//! SYN, ACK, text, FIN), and the sending side's gates and timers in that state: zero window
//! and persist, Nagle, cork, delayed ACK, keepalive, close with unread data, abort. On the
//! packet harness (`harness/mod.rs`).

mod harness;

use std::time::Duration;

use engine::tcp::{ConnOptions, Event, Keepalive, State, TcpError};
use engine::wire::TcpRepr;
use harness::*;

/// `n` bytes of recognisable data.
fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

/// A connection whose receive buffer (and so window) is `rcvbuf` bytes.
fn established_with_rcvbuf(rcvbuf: u32) -> Harness {
    let mut h = Harness::new();
    h.established_passive_with(Some(ConnOptions {
        rcvbuf,
        ..ConnOptions::default()
    }));
    h
}

/// Fills a 4096-byte receive window: three segments, the stack's last ACK offers window 0.
fn fill_4k_window(h: &mut Harness) {
    let mut seq = h.irs + 1;
    for len in [1448usize, 1448, 1200] {
        h.send_data(
            TcpRepr {
                seq,
                ack: h.iss + 1,
                ..SEND_TEMPL
            },
            &bytes(len),
        );
        seq += len as u32;
    }
    let mut last = None;
    while let Some((r, _)) = h.recv() {
        last = Some(r);
    }
    let last = last.expect("ACKs");
    assert_eq!(
        (last.ack, last.window),
        (h.irs + 1 + 4096, 0),
        "window closed"
    );
}

// ---- sequence-number acceptability (RFC 9293 §3.10.7.4 first step) ----

#[test]
fn established_data_in_order_delivered_and_acked() {
    let mut h = Harness::new();
    let c = h.established_passive();
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 1,
            flags: ACK | PSH,
            ..SEND_TEMPL
        },
        b"abcdef",
    );
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 7,
        window: 65535 - 6,
        ..RECV_TEMPL
    });
    h.expect_nothing();
    h.expect_event(Event::Readable(c));
    assert_eq!(h.read_all(), Ok(b"abcdef".to_vec()));
    assert_eq!(h.info().rcv_nxt, (h.irs + 7).0);
}

#[test]
fn established_zero_len_seq_below_window_gets_ack() {
    let mut h = Harness::new();
    h.established_passive();
    h.send(TcpRepr {
        seq: h.irs,
        ack: h.iss + 1,
        ..SEND_TEMPL
    });
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 1,
        ..RECV_TEMPL
    });
    assert_eq!(h.state(), State::Established);
}

#[test]
fn established_zero_len_seq_beyond_window_gets_ack() {
    let mut h = Harness::new();
    h.established_passive();
    // RCV.NXT + RCV.WND is just outside.
    h.send(TcpRepr {
        seq: h.irs + 1 + 65535,
        ack: h.iss + 1,
        ..SEND_TEMPL
    });
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 1,
        ..RECV_TEMPL
    });
    // ... and the last sequence number inside is acceptable: no answer.
    h.send(TcpRepr {
        seq: h.irs + 65535,
        ack: h.iss + 1,
        ..SEND_TEMPL
    });
    h.expect_nothing();
}

#[test]
fn established_data_beyond_window_gets_ack_and_dropped() {
    let mut h = Harness::new();
    h.established_passive();
    h.send_data(
        TcpRepr {
            seq: h.irs + 1 + 65535,
            ack: h.iss + 1,
            ..SEND_TEMPL
        },
        b"late",
    );
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 1,
        ..RECV_TEMPL
    });
    assert_eq!(h.info().readable_bytes, 0);
    h.expect_no_event();
}

#[test]
fn established_old_data_gets_ack_with_dsack() {
    let mut h = Harness::new();
    h.established_passive();
    let seg = TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 1,
        ..SEND_TEMPL
    };
    h.send_data(seg, b"abcdef");
    h.expect(|r, _| assert_eq!(r.ack, REMOTE_ISS + 7));
    // The whole segment again: unacceptable (before RCV.NXT); ACK with a D-SACK block for
    // the duplicate (RFC 2883 §4.1).
    h.send_data(seg, b"abcdef");
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 7,
        window: 65535 - 6,
        sack: sack(&[(h.irs + 1, h.irs + 7)]),
        ..RECV_TEMPL
    });
    assert_eq!(h.read_all(), Ok(b"abcdef".to_vec()));
}

#[test]
fn established_partly_duplicate_data_trimmed_with_dsack() {
    let mut h = Harness::new();
    h.established_passive();
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 1,
            ..SEND_TEMPL
        },
        b"abcdef",
    );
    h.expect(|r, _| assert_eq!(r.ack, REMOTE_ISS + 7));
    // Overlaps the left edge: acceptable, the old part trimmed and reported.
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 1,
            ..SEND_TEMPL
        },
        b"abcdefghij",
    );
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 11,
        window: 65535 - 10,
        sack: sack(&[(h.irs + 1, h.irs + 7)]),
        ..RECV_TEMPL
    });
    assert_eq!(h.read_all(), Ok(b"abcdefghij".to_vec()));
}

#[test]
fn established_zero_window_ack_off_rcv_nxt_gets_ack() {
    let mut h = established_with_rcvbuf(4096);
    fill_4k_window(&mut h);
    let nxt = h.irs + 1 + 4096;
    // Zero window, zero length: acceptable only at RCV.NXT.
    h.send(TcpRepr {
        seq: nxt,
        ack: h.iss + 1,
        ..SEND_TEMPL
    });
    h.expect_nothing();
    h.send(TcpRepr {
        seq: nxt + 1,
        ack: h.iss + 1,
        ..SEND_TEMPL
    });
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: nxt,
        window: 0,
        ..RECV_TEMPL
    });
}

#[test]
fn established_zero_window_data_dropped_and_acked() {
    let mut h = established_with_rcvbuf(4096);
    fill_4k_window(&mut h);
    let nxt = h.irs + 1 + 4096;
    // A zero-window probe with one byte: not acceptable, but answered (RFC 9293 §3.8.6.1).
    h.send_data(
        TcpRepr {
            seq: nxt,
            ack: h.iss + 1,
            ..SEND_TEMPL
        },
        b"x",
    );
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: nxt,
        window: 0,
        ..RECV_TEMPL
    });
    assert_eq!(h.info().readable_bytes, 4096);
    assert_eq!(h.info().rcv_nxt, nxt.0);
}

#[test]
fn established_zero_window_still_processes_ack() {
    let mut h = established_with_rcvbuf(4096);
    h.app_send(b"0123456789");
    h.expect(|_, p| assert_eq!(p.len(), 10));
    fill_4k_window(&mut h);
    let nxt = h.irs + 1 + 4096;
    h.send(TcpRepr {
        seq: nxt,
        ack: h.iss + 11,
        ..SEND_TEMPL
    });
    h.expect_nothing();
    assert_eq!(h.info().snd_una, (h.iss + 11).0);
}

// ---- PAWS (RFC 7323 §5) and TS.Recent ----

#[test]
fn established_ts_recent_tracks_latest_tsval() {
    let mut h = Harness::new();
    h.established_passive();
    h.advance(Duration::from_millis(10));
    let tsval = h.peer_tsval();
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 1,
            ..SEND_TEMPL
        },
        b"abc",
    );
    let ack = h.expect(|_, _| {});
    // RFC 7323 §4.3: TSecr echoes the TSval of the segment that advanced the window.
    assert_eq!(ack.timestamps.map(|t| t.1), Some(tsval));
}

#[test]
fn established_paws_rejects_old_timestamp() {
    let mut h = Harness::new();
    h.established_passive();
    h.advance(Duration::from_millis(10));
    let old = PEER_TS_BASE; // before the SYN's TSval (base + 1000 ms)
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 1,
            timestamps: Some((old, h.ts_recent)),
            ..SEND_TEMPL
        },
        b"abc",
    );
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 1,
        ..RECV_TEMPL
    });
    assert_eq!(h.info().readable_bytes, 0);
    assert_eq!(h.stack.counters().get("TcpExtPAWSEstab"), Some(1));
    // The same bytes with a current timestamp are taken.
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 1,
            ..SEND_TEMPL
        },
        b"abc",
    );
    h.expect(|r, _| assert_eq!(r.ack, REMOTE_ISS + 4));
}

// ---- RST (second step; RFC 5961 §3) ----

#[test]
fn established_rst_at_rcv_nxt_resets() {
    let mut h = Harness::new();
    let c = h.established_passive();
    h.send(TcpRepr {
        seq: h.irs + 1,
        flags: RST,
        window: 0,
        ..SEND_TEMPL
    });
    h.expect_nothing();
    h.expect_event(Event::Closed(c, Some(TcpError::Reset)));
    assert_eq!(h.state(), State::Closed);
    assert_eq!(h.read_all(), Err(TcpError::Reset));
    assert_eq!(h.stack.counters().get("TcpEstabResets"), Some(1));
    // Gone from the flow table: the next segment draws a RST.
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 1,
        ..SEND_TEMPL
    });
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        window: 0,
        flags: RST,
        ..SEND_TEMPL
    });
}

#[test]
fn established_rst_in_window_not_at_rcv_nxt_gets_challenge_ack() {
    let mut h = Harness::new();
    h.established_passive();
    h.send(TcpRepr {
        seq: h.irs + 100,
        flags: RST,
        ..SEND_TEMPL
    });
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 1,
        ..RECV_TEMPL
    });
    h.expect_no_event();
    assert_eq!(h.state(), State::Established);
    assert_eq!(h.stack.counters().get("TcpExtTCPChallengeACK"), Some(1));
}

#[test]
fn established_rst_out_of_window_ignored() {
    let mut h = Harness::new();
    h.established_passive();
    h.send(TcpRepr {
        seq: h.irs + 1 + 70_000,
        flags: RST,
        ..SEND_TEMPL
    });
    h.send(TcpRepr {
        seq: h.irs,
        flags: RST,
        ..SEND_TEMPL
    });
    h.expect_nothing();
    h.expect_no_event();
    assert_eq!(h.state(), State::Established);
}

// ---- SYN (fourth step; RFC 5961 §4) ----

#[test]
fn established_syn_gets_challenge_ack() {
    let mut h = Harness::new();
    h.established_passive();
    h.send(TcpRepr {
        seq: h.irs + 1,
        flags: SYN,
        ..SEND_TEMPL
    });
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 1,
        ..RECV_TEMPL
    });
    h.expect_no_event();
    assert_eq!(h.state(), State::Established);
    assert_eq!(h.stack.counters().get("TcpExtTCPSYNChallenge"), Some(1));
}

#[test]
fn established_syn_out_of_window_gets_ack() {
    let mut h = Harness::new();
    h.established_passive();
    h.send(TcpRepr {
        seq: h.irs + 500_000,
        flags: SYN,
        ..SEND_TEMPL
    });
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 1,
        ..RECV_TEMPL
    });
    assert_eq!(h.state(), State::Established);
}

// ---- ACK (fifth step; RFC 5961 §5) ----

#[test]
fn established_segment_without_ack_dropped() {
    let mut h = Harness::new();
    h.established_passive();
    // RFC 9293 §3.10.7.4, fifth step: if the ACK bit is off, drop the segment.
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            flags: PSH,
            ..SEND_TEMPL
        },
        b"no ack",
    );
    h.expect_nothing();
    h.expect_no_event();
    assert_eq!(h.info().readable_bytes, 0);
    assert_eq!(h.info().rcv_nxt, (h.irs + 1).0);
}

#[test]
fn established_ack_of_unsent_data_gets_ack_and_dropped() {
    let mut h = Harness::new();
    h.established_passive();
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 100,
            ..SEND_TEMPL
        },
        b"xyz",
    );
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 1,
        ..RECV_TEMPL
    });
    assert_eq!(h.info().readable_bytes, 0, "segment dropped, text too");
    assert_eq!(h.info().snd_una, (h.iss + 1).0);
}

#[test]
fn established_old_ack_beyond_max_window_gets_challenge_ack() {
    let mut h = Harness::new();
    h.established_passive();
    // SEG.ACK < SND.UNA - MAX.SND.WND (65535).
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 1 - 70_000,
            ..SEND_TEMPL
        },
        b"xyz",
    );
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 1,
        ..RECV_TEMPL
    });
    assert_eq!(h.info().readable_bytes, 0);
    assert_eq!(h.stack.counters().get("TcpExtTCPChallengeACK"), Some(1));
}

#[test]
fn established_old_ack_within_max_window_text_accepted() {
    let mut h = Harness::new();
    h.established_passive();
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 1 - 1000,
            ..SEND_TEMPL
        },
        b"xyz",
    );
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 4,
        window: 65535 - 3,
        ..RECV_TEMPL
    });
    assert_eq!(h.read_all(), Ok(b"xyz".to_vec()));
}

#[test]
fn established_ack_frees_acknowledged_data() {
    let mut h = Harness::new();
    h.established_passive();
    let d = bytes(300);
    h.app_send(&d);
    h.expect_data(
        TcpRepr {
            seq: h.iss + 1,
            ack: h.irs + 1,
            flags: ACK | PSH,
            ..RECV_TEMPL
        },
        &d,
    );
    assert_eq!(h.info().unacked_bytes, 300);
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 101,
        ..SEND_TEMPL
    });
    let i = h.info();
    assert_eq!((i.snd_una, i.unacked_bytes), ((h.iss + 101).0, 200));
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 301,
        ..SEND_TEMPL
    });
    let i = h.info();
    assert_eq!((i.snd_una, i.unacked_bytes), ((h.iss + 301).0, 0));
    h.expect_nothing();
}

#[test]
fn established_three_dup_acks_fast_retransmit_head() {
    let mut h = Harness::new();
    h.established_passive();
    let data = bytes(4 * SEND_MSS);
    h.app_send(&data);
    for k in 0..4u32 {
        let last = k == 3;
        let seq = h.iss + 1 + k * SEND_MSS as u32;
        let off = k as usize * SEND_MSS;
        h.expect_data(
            TcpRepr {
                seq,
                ack: h.irs + 1,
                flags: if last { ACK | PSH } else { ACK },
                ..RECV_TEMPL
            },
            &data[off..off + SEND_MSS],
        );
    }
    let dup = TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 1,
        ..SEND_TEMPL
    };
    h.send(dup);
    h.send(dup);
    h.expect_nothing();
    h.send(dup);
    h.expect_data(
        TcpRepr {
            seq: h.iss + 1,
            ack: h.irs + 1,
            ..RECV_TEMPL
        },
        &data[..SEND_MSS],
    );
    h.expect_nothing();
    assert_eq!(h.stack.counters().get("TcpExtTCPFastRetrans"), Some(1));
}

#[test]
fn established_ack_with_new_window_is_not_a_dup_ack() {
    let mut h = Harness::new();
    h.established_passive();
    h.app_send(&bytes(2 * SEND_MSS));
    h.clear_inbox();
    // Three ACKs of SND.UNA, each with a different window: window updates, not duplicates
    // (RFC 5681 §2 definition (e)).
    for w in [60000u16, 50000, 40000] {
        h.send(TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 1,
            window: w,
            ..SEND_TEMPL
        });
    }
    h.expect_nothing();
    assert_eq!(h.stack.counters().get("TcpExtTCPFastRetrans"), Some(0));
}

// ---- the send window (SND.WL1 / SND.WL2) ----

#[test]
fn established_window_update_same_seq_applies() {
    let mut h = Harness::new();
    h.established_passive();
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 1,
        window: 1000,
        ..SEND_TEMPL
    });
    assert_eq!(
        h.info().snd_wnd,
        1000,
        "WL1 = SEG.SEQ and WL2 =< SEG.ACK: taken"
    );
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 1,
        window: 3000,
        ..SEND_TEMPL
    });
    assert_eq!(h.info().snd_wnd, 3000);
    h.expect_nothing();
}

#[test]
fn established_window_from_older_segment_ignored() {
    let mut h = Harness::new();
    h.established_passive();
    let d = bytes(20);
    // Reordered: the later segment (window 5000) overtakes the earlier one (window 100).
    h.send_data(
        TcpRepr {
            seq: h.irs + 11,
            ack: h.iss + 1,
            window: 5000,
            ..SEND_TEMPL
        },
        &d[10..],
    );
    assert_eq!(h.info().snd_wnd, 5000);
    // SEG.SEQ < SND.WL1: the text is taken, the stale window is not.
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 1,
            window: 100,
            ..SEND_TEMPL
        },
        &d[..10],
    );
    assert_eq!(h.info().snd_wnd, 5000);
    assert_eq!(h.read_all(), Ok(d));
}

#[test]
fn established_window_from_older_segment_taken_when_its_ack_advances() {
    let mut h = Harness::new();
    h.established_passive();
    h.app_send(&bytes(200));
    h.clear_inbox();
    let d = bytes(20);
    // Out of order: SND.WL1 moves to this later segment.
    h.send_data(
        TcpRepr {
            seq: h.irs + 11,
            ack: h.iss + 1,
            window: 5000,
            ..SEND_TEMPL
        },
        &d[10..],
    );
    assert_eq!(h.info().snd_wnd, 5000);
    // The peer retransmits the hole (SEG.SEQ < SND.WL1) with a newer acknowledgment: an ACK
    // that advances SND.UNA is newer than any window seen, so its window is taken (Linux
    // tcp_may_update_window); keeping the stale 5000 would send beyond the peer's edge.
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 101,
            window: 800,
            ..SEND_TEMPL
        },
        &d[..10],
    );
    assert_eq!(h.info().snd_una, (h.iss + 101).0);
    assert_eq!(h.info().snd_wnd, 800);
}

#[test]
fn established_window_from_older_ack_ignored() {
    let mut h = Harness::new();
    h.established_passive();
    h.app_send(&bytes(200));
    h.clear_inbox();
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 101,
        window: 5000,
        ..SEND_TEMPL
    });
    assert_eq!(h.info().snd_wnd, 5000);
    // Same SEG.SEQ, older SEG.ACK (SND.WL2 > SEG.ACK): reordered, its window is stale.
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 51,
        window: 100,
        ..SEND_TEMPL
    });
    assert_eq!(h.info().snd_wnd, 5000);
    assert_eq!(h.info().snd_una, (h.iss + 101).0);
}

// ---- text (seventh step) ----

#[test]
fn established_out_of_order_data_gets_sack_block() {
    let mut h = Harness::new();
    h.established_passive();
    let d = bytes(150);
    h.send_data(
        TcpRepr {
            seq: h.irs + 101,
            ack: h.iss + 1,
            ..SEND_TEMPL
        },
        &d[100..],
    );
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 1,
        sack: sack(&[(h.irs + 101, h.irs + 151)]),
        ..RECV_TEMPL
    });
    assert_eq!(h.info().readable_bytes, 0);
    h.expect_no_event();
    // The gap filled: cumulative ACK, no SACK left.
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 1,
            ..SEND_TEMPL
        },
        &d[..100],
    );
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 151,
        window: 65535 - 150,
        ..RECV_TEMPL
    });
    assert_eq!(h.read_all(), Ok(d));
}

#[test]
fn established_sack_blocks_newest_first() {
    let mut h = Harness::new();
    h.established_passive();
    let d = bytes(100);
    for start in [20u32, 60] {
        h.send_data(
            TcpRepr {
                seq: h.irs + 1 + start,
                ack: h.iss + 1,
                ..SEND_TEMPL
            },
            &d[start as usize..start as usize + 10],
        );
    }
    h.recv();
    // RFC 2018 §4: the first block holds the most recently received segment.
    h.expect(|r, _| {
        assert_eq!(r.ack, REMOTE_ISS + 1);
        assert_eq!(
            r.sack,
            sack(&[
                (REMOTE_ISS + 61, REMOTE_ISS + 71),
                (REMOTE_ISS + 21, REMOTE_ISS + 31)
            ])
        );
    });
}

// ---- FIN (eighth step) ----

#[test]
fn established_fin_enters_close_wait_with_eof() {
    let mut h = Harness::new();
    let c = h.established_passive();
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 1,
            flags: FIN | ACK | PSH,
            ..SEND_TEMPL
        },
        b"bye",
    );
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 5,
        // The FIN takes a sequence number too; the right edge stays put.
        window: 65535 - 4,
        ..RECV_TEMPL
    });
    assert_eq!(h.state(), State::CloseWait);
    h.expect_event(Event::Readable(c));
    assert_eq!(h.read_all(), Ok(b"bye".to_vec()));
    let mut buf = [0u8; 8];
    assert_eq!(h.stack.recv(c, &mut buf), Ok(0), "end of file");
    // Still able to send.
    h.app_send(b"ok");
    h.expect_data(
        TcpRepr {
            seq: h.iss + 1,
            ack: h.irs + 5,
            flags: ACK | PSH,
            window: 65535 - 4,
            ..RECV_TEMPL
        },
        b"ok",
    );
}

#[test]
fn established_fin_beyond_gap_waits_for_gap() {
    let mut h = Harness::new();
    h.established_passive();
    h.send_data(
        TcpRepr {
            seq: h.irs + 11,
            ack: h.iss + 1,
            flags: FIN | ACK,
            ..SEND_TEMPL
        },
        b"0123456789",
    );
    h.expect(|r, _| assert_eq!(r.ack, REMOTE_ISS + 1));
    assert_eq!(h.state(), State::Established);
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 1,
            ..SEND_TEMPL
        },
        b"abcdefghij",
    );
    h.expect(|r, _| assert_eq!(r.ack, REMOTE_ISS + 22, "data and FIN acknowledged"));
    assert_eq!(h.state(), State::CloseWait);
    assert_eq!(h.read_all(), Ok(b"abcdefghij0123456789".to_vec()));
}

// ---- application calls ----

#[test]
fn established_close_with_unread_data_sends_rst() {
    let mut h = Harness::new();
    h.established_passive();
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 1,
            ..SEND_TEMPL
        },
        b"unread",
    );
    h.clear_inbox();
    h.app_close();
    // RFC 2525 §2.17 / RFC 9293 §3.10.4: reset, not FIN, when received data is lost.
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 7,
        flags: RST | ACK,
        window: 0,
        ..RECV_TEMPL
    });
    h.expect_nothing();
    assert_eq!(h.connections(), 0);
    assert_eq!(h.stack.counters().get("TcpExtTCPAbortOnClose"), Some(1));
}

#[test]
fn established_close_without_unread_data_sends_fin() {
    let mut h = Harness::new();
    h.established_passive();
    h.app_close();
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 1,
        flags: FIN | ACK,
        ..RECV_TEMPL
    });
    assert_eq!(h.connections(), 1, "the orphan finishes the close alone");
}

#[test]
fn established_abort_sends_rst() {
    let mut h = Harness::new();
    h.established_passive();
    h.app_send(b"pending");
    h.clear_inbox();
    h.app_abort();
    h.expect_repr(TcpRepr {
        seq: h.iss + 8,
        ack: h.irs + 1,
        flags: RST | ACK,
        window: 0,
        ..RECV_TEMPL
    });
    h.expect_nothing();
    h.expect_no_event();
    assert_eq!(h.connections(), 0);
    // The peer's next segment finds no connection.
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 8,
        ..SEND_TEMPL
    });
    h.expect(|r, _| assert_eq!(r.flags, RST));
}

// ---- zero window and persist (RFC 9293 §3.8.6.1) ----

/// ESTABLISHED, the peer's window closed, 100 bytes waiting to go.
fn zero_window_with_data() -> Harness {
    let mut h = Harness::new();
    h.established_passive();
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 1,
        window: 0,
        ..SEND_TEMPL
    });
    assert_eq!(h.info().snd_wnd, 0);
    h.app_send(&bytes(100));
    h
}

#[test]
fn established_zero_window_sends_no_data() {
    let mut h = zero_window_with_data();
    h.expect_nothing();
    assert_eq!(h.info().unsent_bytes, 100);
}

#[test]
fn established_zero_window_persist_probe_after_rto() {
    let mut h = zero_window_with_data();
    let t = h.now;
    let rto = h.info().rto;
    assert_eq!(
        rto,
        Duration::from_millis(200),
        "min RTO after a zero-RTT handshake"
    );
    h.advance(rto - Duration::from_nanos(1));
    h.expect_nothing();
    h.advance(Duration::from_nanos(1));
    let p = h.recv_seg().expect("zero-window probe");
    assert_eq!(p.at, t + rto);
    // Linux's tcp_xmit_probe_skb: SEG.SEQ = SND.UNA - 1, no data, forces an ACK.
    assert_eq!(
        (p.repr.flags, p.repr.seq, p.repr.ack, p.payload.len()),
        (ACK, h.iss, h.irs + 1, 0)
    );
    assert_eq!(h.stack.counters().get("TcpExtTCPWinProbe"), Some(1));
}

#[test]
fn established_zero_window_probes_back_off_unanswered() {
    let mut h = zero_window_with_data();
    let t = h.now;
    h.advance(Duration::from_millis(1500));
    let at: Vec<Duration> = std::iter::from_fn(|| h.recv_seg())
        .map(|s| s.at - t)
        .collect();
    let ms = Duration::from_millis;
    assert_eq!(
        at,
        vec![ms(200), ms(600), ms(1400)],
        "200 ms, then doubling"
    );
}

#[test]
fn established_zero_window_probes_back_off_when_answered() {
    let mut h = zero_window_with_data();
    let t = h.now;
    let mut at = Vec::new();
    for _ in 0..4 {
        let deadline = h.now + Duration::from_secs(10);
        while h.pending() == 0 && h.now < deadline {
            let next = h.next_deadline().unwrap_or(deadline).min(deadline);
            h.advance_to(next);
        }
        let p = h.recv_seg().expect("probe");
        at.push(p.at - t);
        // The peer answers every probe: still a zero window.
        h.send(TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 1,
            window: 0,
            ..SEND_TEMPL
        });
        h.expect_nothing();
    }
    let ms = Duration::from_millis;
    // RFC 9293 §3.8.6.1: the interval grows exponentially even though each probe is answered
    // (Linux keeps icsk_backoff until the window opens).
    assert_eq!(at, vec![ms(200), ms(600), ms(1400), ms(3000)]);
    assert_eq!(h.state(), State::Established);
}

#[test]
fn established_zero_window_opening_sends_data() {
    let mut h = zero_window_with_data();
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 1,
        window: 1000,
        ..SEND_TEMPL
    });
    h.expect_data(
        TcpRepr {
            seq: h.iss + 1,
            ack: h.irs + 1,
            flags: ACK | PSH,
            ..RECV_TEMPL
        },
        &bytes(100),
    );
    // The persist timer is gone: nothing but the RTO remains.
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 101,
        window: 1000,
        ..SEND_TEMPL
    });
    h.advance(Duration::from_secs(5));
    h.expect_nothing();
}

// ---- Nagle and cork ----

#[test]
fn established_nagle_holds_small_segment_while_unacked() {
    let mut h = Harness::new();
    h.established_passive_with(Some(ConnOptions::linux_like()));
    h.app_send(b"first");
    h.expect_data(
        TcpRepr {
            seq: h.iss + 1,
            ack: h.irs + 1,
            flags: ACK | PSH,
            ..RECV_TEMPL
        },
        b"first",
    );
    h.app_send(b"second");
    h.expect_nothing();
    h.advance(Duration::from_millis(50));
    h.expect_nothing();
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 6,
        ..SEND_TEMPL
    });
    h.expect_data(
        TcpRepr {
            seq: h.iss + 6,
            ack: h.irs + 1,
            flags: ACK | PSH,
            ..RECV_TEMPL
        },
        b"second",
    );
}

#[test]
fn established_nagle_sends_full_segment_while_unacked() {
    let mut h = Harness::new();
    h.established_passive_with(Some(ConnOptions::linux_like()));
    h.app_send(b"first");
    h.recv().expect("first");
    let full = bytes(SEND_MSS);
    h.app_send(&full);
    h.expect_data(
        TcpRepr {
            seq: h.iss + 6,
            ack: h.irs + 1,
            flags: ACK | PSH,
            ..RECV_TEMPL
        },
        &full,
    );
}

#[test]
fn established_nodelay_sends_small_segments_at_once() {
    let mut h = Harness::new();
    h.established_passive();
    h.app_send(b"a");
    h.app_send(b"b");
    for (k, byte) in [b"a", b"b"].into_iter().enumerate() {
        h.expect_data(
            TcpRepr {
                seq: h.iss + 1 + k as u32,
                ack: h.irs + 1,
                flags: ACK | PSH,
                ..RECV_TEMPL
            },
            byte,
        );
    }
}

#[test]
fn established_cork_holds_partial_segment_until_uncork() {
    let mut h = Harness::new();
    let corked = ConnOptions {
        cork: true,
        ..ConnOptions::default()
    };
    let c = h.established_passive_with(Some(corked));
    let d = bytes(SEND_MSS + 100);
    h.app_send(&d);
    // The full segment goes; the partial one waits.
    h.expect_data(
        TcpRepr {
            seq: h.iss + 1,
            ack: h.irs + 1,
            ..RECV_TEMPL
        },
        &d[..SEND_MSS],
    );
    h.expect_nothing();
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 1 + SEND_MSS as u32,
        ..SEND_TEMPL
    });
    h.expect_nothing();
    h.stack
        .set_options(
            c,
            ConnOptions {
                cork: false,
                ..corked
            },
        )
        .unwrap();
    h.poll();
    h.expect_data(
        TcpRepr {
            seq: h.iss + 1 + SEND_MSS as u32,
            ack: h.irs + 1,
            flags: ACK | PSH,
            ..RECV_TEMPL
        },
        &d[SEND_MSS..],
    );
}

// ---- delayed ACK (RFC 1122 §4.2.3.2, RFC 5681 §4.2) ----

fn delayed_ack_harness() -> Harness {
    let mut h = Harness::with_config(|c| c.tcp.quickack_segments = 0);
    h.established_passive_with(Some(ConnOptions::linux_like()));
    h
}

#[test]
fn established_delayed_ack_waits_delayed_ack_timeout() {
    let mut h = delayed_ack_harness();
    let t = h.now;
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 1,
            ..SEND_TEMPL
        },
        b"small",
    );
    h.expect_nothing();
    h.advance(Duration::from_millis(40) - Duration::from_nanos(1));
    h.expect_nothing();
    h.advance(Duration::from_nanos(1));
    let s = h.recv_seg().expect("delayed ACK");
    assert_eq!(
        s.at,
        t + Duration::from_millis(40),
        "TcpConfig::delayed_ack"
    );
    assert_eq!((s.repr.flags, s.repr.ack), (ACK, h.irs + 6));
    assert_eq!(h.stack.counters().get("TcpExtDelayedACKs"), Some(1));
}

#[test]
fn established_delayed_ack_every_second_full_segment() {
    let mut h = delayed_ack_harness();
    let d = bytes(2 * SEND_MSS);
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 1,
            ..SEND_TEMPL
        },
        &d[..SEND_MSS],
    );
    h.expect_nothing();
    h.send_data(
        TcpRepr {
            seq: h.irs + 1 + SEND_MSS as u32,
            ack: h.iss + 1,
            ..SEND_TEMPL
        },
        &d[SEND_MSS..],
    );
    // RFC 5681 §4.2: an ACK for at least every second full-sized segment, at once.
    h.expect(|r, _| assert_eq!(r.ack, REMOTE_ISS + 1 + 2 * SEND_MSS as u32));
    h.expect_nothing();
}

#[test]
fn established_delayed_ack_piggybacks_on_data() {
    let mut h = delayed_ack_harness();
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 1,
            ..SEND_TEMPL
        },
        b"ping",
    );
    h.expect_nothing();
    h.app_send(b"pong");
    h.expect_data(
        TcpRepr {
            seq: h.iss + 1,
            ack: h.irs + 5,
            flags: ACK | PSH,
            window: 65535 - 4,
            ..RECV_TEMPL
        },
        b"pong",
    );
    // The owed ACK went with the data: no separate one when the timer would have fired.
    h.advance(Duration::from_millis(100));
    h.expect_nothing();
}

#[test]
fn established_out_of_order_data_acked_at_once_despite_delayed_ack() {
    let mut h = delayed_ack_harness();
    h.send_data(
        TcpRepr {
            seq: h.irs + 11,
            ack: h.iss + 1,
            ..SEND_TEMPL
        },
        b"later",
    );
    h.expect(|r, _| assert_eq!(r.ack, REMOTE_ISS + 1));
}

// ---- keepalive (RFC 1122 §4.2.3.6) ----

const KA: Keepalive = Keepalive::new(Duration::from_secs(10), Duration::from_secs(2), 3);

fn keepalive_harness() -> Harness {
    let mut h = Harness::new();
    h.established_passive_with(Some(ConnOptions {
        keepalive: Some(KA),
        ..ConnOptions::default()
    }));
    h
}

#[test]
fn established_keepalive_probe_after_idle() {
    let mut h = keepalive_harness();
    let t = h.now;
    h.advance(KA.idle() - Duration::from_nanos(1));
    h.expect_nothing();
    h.advance(Duration::from_nanos(1));
    let p = h.recv_seg().expect("keepalive probe");
    assert_eq!(p.at, t + KA.idle());
    assert_eq!(
        (p.repr.flags, p.repr.seq, p.repr.ack, p.payload.len()),
        (ACK, h.iss, h.irs + 1, 0),
        "SEG.SEQ = SND.NXT - 1, no data"
    );
}

#[test]
fn established_keepalive_unanswered_times_out() {
    let mut h = keepalive_harness();
    let c = h.conn();
    let t = h.now;
    h.advance(KA.idle() + 3 * KA.interval());
    let at: Vec<Duration> = (0..3)
        .map(|_| {
            let s = h.recv_seg().expect("probe");
            assert_eq!(s.repr.flags, ACK);
            s.at - t
        })
        .collect();
    let s = Duration::from_secs;
    assert_eq!(at, vec![s(10), s(12), s(14)]);
    // The probes went unanswered: reset and report.
    let rst = h.recv_seg().expect("RST");
    assert_eq!(rst.at - t, s(16));
    assert_eq!(
        (rst.repr.flags, rst.repr.seq, rst.repr.ack),
        (RST | ACK, h.iss + 1, h.irs + 1)
    );
    let evs = h.take_events();
    assert_eq!(evs[0], Event::Closed(c, Some(TcpError::TimedOut)));
    assert_eq!(h.state(), State::Closed);
}

#[test]
fn established_keepalive_answered_restarts_idle() {
    let mut h = keepalive_harness();
    h.advance(KA.idle());
    h.recv().expect("probe");
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 1,
        ..SEND_TEMPL
    });
    let t = h.now;
    h.advance(KA.idle() - Duration::from_nanos(1));
    h.expect_nothing();
    h.advance(Duration::from_nanos(1));
    let p = h.recv_seg().expect("next probe after a full idle period");
    assert_eq!(p.at, t + KA.idle());
    assert_eq!(h.state(), State::Established);
}

// ---- retransmission and window maintenance ----

#[test]
fn established_rto_retransmits_head_and_backs_off() {
    let mut h = Harness::new();
    h.established_passive();
    let t = h.now;
    h.app_send(b"lost");
    h.recv().expect("original");
    h.advance(Duration::from_millis(700));
    let iss = h.iss;
    let at: Vec<Duration> = std::iter::from_fn(|| h.recv_seg())
        .map(|s| {
            assert_eq!((s.repr.seq, s.payload.as_slice()), (iss + 1, &b"lost"[..]));
            s.at - t
        })
        .collect();
    let ms = Duration::from_millis;
    // One segment out: the tail loss probe's timeout (2·SRTT + 200 ms, RFC 8985 §7.2) meets
    // the RTO (200 ms), so the probe goes at 200 ms and restarts the RTO; the RTO fires 200 ms
    // later (RFC 6298 §5.4) and backs off (§5.5), as Linux's one timer does.
    assert_eq!(at, vec![ms(200), ms(400)]);
    assert_eq!(h.stack.counters().get("TcpRetransSegs"), Some(2));
    assert_eq!(h.stack.counters().get("TcpExtTCPLossProbes"), Some(1));
    assert_eq!(h.stack.counters().get("TcpExtTCPTimeouts"), Some(1));
    // The ACK stops the timer.
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 5,
        ..SEND_TEMPL
    });
    h.advance(Duration::from_secs(5));
    h.expect_nothing();
}

#[test]
fn established_quickack_acks_first_segments_at_once() {
    // Linux-like delayed ACKs, but the default quick-ack budget after the handshake.
    let mut h = Harness::new();
    h.established_passive_with(Some(ConnOptions::linux_like()));
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 1,
            ..SEND_TEMPL
        },
        b"hello",
    );
    h.expect(|r, _| assert_eq!(r.ack, REMOTE_ISS + 6));
}

#[test]
fn established_read_reopens_window_with_update() {
    let mut h = established_with_rcvbuf(4096);
    fill_4k_window(&mut h);
    assert_eq!(h.read_all().map(|v| v.len()), Ok(4096));
    h.poll();
    // The window reopened by the read is announced at once (RFC 9293 §3.8.6.2.2: by at
    // least min(buffer/2, MSS)).
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 1 + 4096,
        window: 4096,
        ..RECV_TEMPL
    });
    h.expect_nothing();
}

#[test]
fn established_small_read_no_window_update() {
    let mut h = established_with_rcvbuf(4096);
    fill_4k_window(&mut h);
    let c = h.conn();
    let mut buf = [0u8; 100];
    assert_eq!(h.stack.recv(c, &mut buf), Ok(100));
    h.poll();
    // 100 bytes of room is silly-window material: no update (RFC 9293 §3.8.6.2.2).
    h.expect_nothing();
}

#[test]
fn established_small_window_filled_after_override_timeout() {
    let mut h = Harness::new();
    h.established_passive();
    // The peer offers 50 bytes: less than an MSS and than half its largest window, so the
    // sender waits (RFC 9293 §3.8.6.2.1 SWS avoidance)...
    h.send(TcpRepr {
        seq: h.irs + 1,
        ack: h.iss + 1,
        window: 50,
        ..SEND_TEMPL
    });
    let d = bytes(100);
    h.app_send(&d);
    h.expect_nothing();
    // ... but not forever: when the override (persist) timer fires, it sends what fits.
    h.advance(Duration::from_millis(200));
    h.expect_data(
        TcpRepr {
            seq: h.iss + 1,
            ack: h.irs + 1,
            ..RECV_TEMPL
        },
        &d[..50],
    );
}

#[test]
fn established_active_data_and_fin_from_peer() {
    let mut h = Harness::new();
    let c = h.established_active();
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 1,
            flags: FIN | ACK | PSH,
            ..SEND_TEMPL
        },
        b"hi",
    );
    h.expect_repr(TcpRepr {
        seq: h.iss + 1,
        ack: h.irs + 4,
        window: 65535 - 3,
        ..RECV_TEMPL
    });
    h.expect_event(Event::Readable(c));
    assert_eq!(h.state(), State::CloseWait);
    assert_eq!(h.read_all(), Ok(b"hi".to_vec()));
}

#[test]
fn established_active_rst_at_rcv_nxt_resets() {
    let mut h = Harness::new();
    let c = h.established_active();
    h.send(TcpRepr {
        seq: h.irs + 1,
        flags: RST,
        window: 0,
        ..SEND_TEMPL
    });
    h.expect_nothing();
    h.expect_event(Event::Closed(c, Some(TcpError::Reset)));
    assert_eq!(h.state(), State::Closed);
}
