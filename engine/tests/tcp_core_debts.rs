//! Debts paid in the TCP core, each shown through the segment boundary (`sans_io`): counters
//! that moved nowhere, a listener slot whose half-open children leaked into its next owner,
//! an event queue that grew while the application did not drain it, and an accept queue that
//! grew as connections arrived.

mod counting;
mod sans_io;

use std::time::Duration;

use counting::allocations;
use engine::tcp::counters::TcpCounters;
use engine::tcp::{Event, TcpConfig};
use engine::wire::{SeqNum, TcpFlags, TcpRepr};
use sans_io::{Core, Family, PEER_TEMPL, Pair};

const SYN: TcpFlags = TcpFlags::SYN;
const ACK: TcpFlags = TcpFlags::ACK;
const RST: TcpFlags = TcpFlags::RST;

/// The peer (host 1, port `sport`) opens a connection to `port` on `c` (host 2): SYN, then the
/// ACK of the SYN-ACK. Returns the core's ISS.
fn handshake(c: &mut Core, f: Family, sport: u16, port: u16, ack: bool) -> SeqNum {
    let syn = TcpRepr {
        src_port: sport,
        dst_port: port,
        seq: SeqNum(100),
        flags: SYN,
        mss: Some(1460),
        ..PEER_TEMPL
    };
    c.deliver(f.addr(1), f.addr(2), syn, &[]);
    // Read in place and cleared, so the sink keeps its storage (no allocation here).
    assert_eq!(c.sink.sent.len(), 1);
    let sa = c.sink.sent[0].repr;
    c.sink.sent.clear();
    assert_eq!(sa.flags, SYN | ACK);
    if ack {
        let a = TcpRepr {
            src_port: sport,
            dst_port: port,
            seq: SeqNum(101),
            ack: sa.seq + 1,
            ..PEER_TEMPL
        };
        c.deliver(f.addr(1), f.addr(2), a, &[]);
    }
    sa.seq
}

#[test]
fn pure_acks_and_header_predicted_acks_are_counted_where_linux_counts_them() {
    for f in Family::BOTH {
        let mut p = Pair::new(&format!("dpa{f:?}"), f);
        let l = p.b.listen(7);
        let c = p.a.connect(f.addr(1), (f.addr(2), 7));
        p.run(Duration::from_millis(10), |_, _| false);
        let s = p.b.tcp.accept(l).expect("accepted");
        // The ACK completing the handshake is processed outside header prediction: a pure ACK.
        assert_eq!(p.b.tcp.counters().pure_acks_in, 1, "{f:?}");
        let data = vec![7u8; 50_000];
        let mut sent = 0;
        while sent < data.len() {
            sent += p.a.send(c, &data[sent..]);
            p.run(Duration::from_millis(10), |_, _| false);
            p.b.read(s);
        }
        // B's ACKs of A's data advance SND.UNA on A's predicted path.
        assert!(p.a.tcp.counters().hp_acks > 0, "{f:?}");
        let names = TcpCounters::NAMES;
        assert!(names.contains(&"TcpExtTCPPureAcks") && names.contains(&"TcpExtTCPHPAcks"));
    }
}

#[test]
fn a_syn_on_an_established_connection_counts_as_an_input_error() {
    let f = Family::V4;
    let mut c = Core::new("dse", TcpConfig::default(), 9);
    let l = c.listen(80);
    let iss = handshake(&mut c, f, 40000, 80, true);
    assert!(c.tcp.accept(l).is_some());
    assert_eq!(c.tcp.counters().in_errs, 0);
    let syn = TcpRepr {
        src_port: 40000,
        dst_port: 80,
        seq: SeqNum(101),
        flags: SYN,
        ..PEER_TEMPL
    };
    c.deliver(f.addr(1), f.addr(2), syn, &[]);
    // RFC 5961 §4.2: a challenge ACK; Linux counts the SYN in TcpInErrs and TCPSYNChallenge.
    let ack = c.one().repr;
    assert_eq!((ack.flags, ack.seq, ack.ack), (ACK, iss + 1, SeqNum(101)));
    let k = c.tcp.counters();
    assert_eq!((k.in_errs, k.syn_challenge), (1, 1));
}

#[test]
fn partial_acks_have_an_honest_name() {
    // Linux's TcpExtTCPRenoRecoveryFail counts RTOs during Reno recovery, not partial ACKs.
    assert!(!TcpCounters::NAMES.contains(&"TcpExtTCPRenoRecoveryFail"));
    let k = TcpCounters {
        partial_acks: 3,
        ..TcpCounters::default()
    };
    assert_eq!(k.get("TcpExtTCPRenoPartialAck"), Some(3));
}

#[test]
fn half_open_children_of_a_removed_listener_do_not_reach_the_next_one() {
    let f = Family::V6;
    let mut c = Core::new("dul", TcpConfig::default(), 10);
    let old = c.listen(80);
    // A child in SYN-RECEIVED, then the listener goes away and a new one takes its slot.
    let iss = handshake(&mut c, f, 40000, 80, false);
    c.tcp.unlisten(
        old,
        &mut engine::tcp::Out {
            now: c.now,
            sink: &mut c.sink,
        },
    );
    let new = c.listen(81);
    assert_eq!(c.tcp.accept(old), None, "a stale id names nothing");
    // The old child's handshake completes: it is reset, as against a closed port, and
    // nothing reaches the new listener.
    let ack = TcpRepr {
        src_port: 40000,
        dst_port: 80,
        seq: SeqNum(101),
        ack: iss + 1,
        ..PEER_TEMPL
    };
    c.deliver(f.addr(1), f.addr(2), ack, &[]);
    let rst = c.one().repr;
    assert_eq!((rst.flags, rst.seq), (RST, iss + 1));
    assert!(
        c.take_events().is_empty(),
        "no Acceptable for the new listener"
    );
    assert_eq!(c.tcp.accept(new), None);
    assert_eq!(c.tcp.connections(), 0);
    // The new listener's SYN queue is intact: a backlog's worth of SYNs is answered.
    handshake(&mut c, f, 40001, 81, true);
    assert!(c.tcp.accept(new).is_some());
}

#[test]
fn readiness_does_not_pile_up_while_the_application_does_not_poll_events() {
    let f = Family::V4;
    let mut c = Core::new("dev", TcpConfig::default(), 11);
    let l = c.listen(80);
    let iss = handshake(&mut c, f, 40000, 80, true);
    let conn = c.tcp.accept(l).expect("accept");
    c.events.clear();
    // 2,000 rounds of data that the application reads without ever asking for events.
    let mut seq = SeqNum(101);
    let mut buf = [0u8; 64];
    for _ in 0..2000 {
        let d = TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq,
            ack: iss + 1,
            flags: ACK | TcpFlags::PSH,
            ..PEER_TEMPL
        };
        let payload = Some(engine::buf::Pkt::from_slice(&c.pool, b"0123456789").unwrap());
        let seg = engine::tcp::Segment {
            src: f.addr(1),
            dst: f.addr(2),
            ecn: engine::tcp::Ecn::NotEct,
            repr: d,
            payload,
        };
        let out = &mut engine::tcp::Out {
            now: c.now,
            sink: &mut c.sink,
        };
        c.tcp.input(seg, out);
        c.tcp.flush_pending(out);
        assert_eq!(c.tcp.recv(conn, &mut buf), Ok(10));
        seq += 10;
    }
    let pending: Vec<Event> = std::iter::from_fn(|| c.tcp.poll_event()).collect();
    assert_eq!(
        pending,
        [Event::Readable(conn)],
        "one readiness, not one per arrival"
    );
}

#[test]
fn completed_handshakes_queue_for_accept_without_allocating() {
    let f = Family::V4;
    let mut c = Core::new("dac", TcpConfig::default(), 12);
    let l = c.tcp.listen(80, 256, None).unwrap();
    // Warm up: 220 connections accepted and aborted, so the per-core pool holds their queue
    // storage (`spare`) and every table has seen that many entries.
    let mut conns = Vec::new();
    for i in 0..220 {
        handshake(&mut c, f, 1000 + i, 80, true);
        conns.push(c.tcp.accept(l).expect("accept"));
    }
    for conn in conns {
        c.abort(conn);
    }
    c.take_sent();
    c.sink.sent.reserve(4096);
    c.events.clear();
    c.events.reserve(4096);
    assert_eq!(c.tcp.connections(), 0);
    // Now 200 handshakes complete with nobody accepting: the accept queue holds them all.
    let n = allocations(|| {
        for i in 0..200 {
            handshake(&mut c, f, 5000 + i, 80, true);
        }
    });
    assert_eq!(n, 0, "allocations while 200 connections queued for accept");
    let mut accepted = 0;
    while c.tcp.accept(l).is_some() {
        accepted += 1;
    }
    assert_eq!(accepted, 200);
}
