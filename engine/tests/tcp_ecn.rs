//! ECN (RFC 3168 §6.1) in the TCP core, through its segment boundary alone (`sans_io`), in
//! IPv4 and IPv6: negotiation both ways (§6.1.1), ECT(0) on new data and on nothing else
//! (§6.1.1, §6.1.4, §6.1.5), CE echoed with ECE until CWR (§6.1.3), one window reduction per
//! window of data (§6.1.2), CWR after every reduction, alone rather than on a TSO frame.
//!
//! One core is played by hand (`Core`), segment by segment, where the exact segments matter;
//! two cores back to back (`Pair`, with a router that marks CE) where a whole transfer does.

mod sans_io;

use std::time::Duration;

use engine::tcp::congestion::CcKind;
use engine::tcp::{
    ConnId, ConnOptions, Ecn, EcnMode, Event, LinkCaps, ListenerId, PathCaps, TcpConfig, TsoCaps,
};
use engine::wire::{SeqNum, TcpFlags, TcpRepr};
use sans_io::{Core, Family, PEER_TEMPL, Pair, Sent};

/// The reductions asserted below are NewReno's halving (RFC 3168 §6.1.2 "halve"); CUBIC, the
/// default, would take 0.7 of the window.
fn newreno() -> TcpConfig {
    TcpConfig {
        congestion: CcKind::NewReno,
        ..TcpConfig::default()
    }
}

const ACK: TcpFlags = TcpFlags::ACK;
const SYN: TcpFlags = TcpFlags::SYN;
const PSH: TcpFlags = TcpFlags::PSH;
const ECE: TcpFlags = TcpFlags::ECE;
const CWR: TcpFlags = TcpFlags::CWR;
const NONE: TcpFlags = TcpFlags::EMPTY;

/// The peer's ISN in the hand-played connections.
const PEER_ISN: SeqNum = SeqNum(5000);

/// Connection options with ECN `mode`, the rest default.
fn ecn_opts(mode: EcnMode) -> ConnOptions {
    ConnOptions {
        ecn: mode,
        ..ConnOptions::default()
    }
}

/// A TCP configuration whose connections default to ECN `mode`.
fn ecn_cfg(mode: EcnMode) -> TcpConfig {
    TcpConfig {
        default_options: ecn_opts(mode),
        ..TcpConfig::default()
    }
}

fn has(s: &Sent, f: TcpFlags) -> bool {
    s.repr.flags.contains(f)
}

// ---------------------------------------------------------------------------------------------
// Negotiation (§6.1.1)

/// The peer's SYN from `port` to port 80 with `extra` flags, an MSS of 1460 and
/// SACK-permitted.
fn peer_syn(port: u16, extra: TcpFlags) -> TcpRepr {
    TcpRepr {
        src_port: port,
        dst_port: 80,
        seq: PEER_ISN,
        flags: SYN | extra,
        mss: Some(1460),
        sack_permitted: true,
        ..PEER_TEMPL
    }
}

/// The peer's ACK completing the handshake that `synack` answered.
fn third_ack(synack: &Sent) -> TcpRepr {
    TcpRepr {
        src_port: synack.repr.dst_port,
        dst_port: synack.repr.src_port,
        seq: PEER_ISN + 1,
        ack: synack.repr.seq + 1,
        ..PEER_TEMPL
    }
}

#[test]
fn a_listener_answers_an_ecn_setup_syn_with_ece_alone() {
    // One core for both families (the test EAL's memory holds a dozen cores' pools).
    let mut c = Core::new("enl", TcpConfig::default(), 3);
    let l = c.listen(80);
    let off = c.tcp.listen(81, 8, Some(ecn_opts(EcnMode::Off))).unwrap();
    for f in Family::BOTH {
        let (us, peer) = (f.addr(2), f.addr(1));
        // (SYN's ECN flags, the SYN-ACK's ECN flags): only ECE and CWR together ask.
        let cases = [(ECE | CWR, ECE), (ECE, NONE), (CWR, NONE), (NONE, NONE)];
        for (i, (asked, answered)) in cases.into_iter().enumerate() {
            let syn = peer_syn(40000 + i as u16, asked);
            c.deliver(peer, us, syn, &[]);
            let sa = c.one();
            assert_eq!(sa.repr.flags, SYN | ACK | answered, "{f:?} {asked:?}");
            assert_eq!(sa.ecn, Ecn::NotEct, "a SYN-ACK is not ECT");
            if i == 0 {
                // The SYN again (its SYN-ACK lost): the same SYN-ACK again, ECE included.
                c.deliver(peer, us, syn, &[]);
                assert_eq!(c.one().repr.flags, SYN | ACK | ECE, "{f:?}");
            }
            c.deliver(peer, us, third_ack(&sa), &[]);
            c.expect_nothing();
            let conn = c.tcp.accept(l).expect("accept");
            let info = c.tcp.info(conn).unwrap();
            assert_eq!(info.ecn, answered == ECE, "{f:?} {asked:?}");
        }
        // A listener with ECN off refuses it (Linux tcp_ecn=0).
        let syn = TcpRepr {
            dst_port: 81,
            ..peer_syn(40100, ECE | CWR)
        };
        c.deliver(peer, us, syn, &[]);
        let sa = c.one();
        assert_eq!(sa.repr.flags, SYN | ACK, "{f:?}: no ECE with ECN off");
        c.deliver(peer, us, third_ack(&sa), &[]);
        let conn = c.tcp.accept(off).expect("accept");
        assert!(!c.tcp.info(conn).unwrap().ecn);
    }
}

/// The SYN-ACK answering `syn`, with `extra` flags.
fn syn_ack_to(syn: &Sent, extra: TcpFlags) -> TcpRepr {
    TcpRepr {
        src_port: syn.repr.dst_port,
        dst_port: syn.repr.src_port,
        seq: PEER_ISN,
        ack: syn.repr.seq + 1,
        flags: SYN | ACK | extra,
        mss: Some(1460),
        ..PEER_TEMPL
    }
}

#[test]
fn an_active_open_asks_only_when_told_and_takes_ece_alone_as_yes() {
    let mut c = Core::new("ena", TcpConfig::default(), 4);
    for f in Family::BOTH {
        let (us, peer) = (f.addr(1), f.addr(2));
        // Linux's default (tcp_ecn=2): never ask.
        let conn = c.connect(us, (peer, 7));
        let syn = c.one();
        assert_eq!(syn.repr.flags, SYN, "{f:?}: not asked for by default");
        c.deliver(peer, us, syn_ack_to(&syn, ECE), &[]);
        c.take_sent();
        assert!(
            !c.tcp.info(conn).unwrap().ecn,
            "{f:?}: ECE on a SYN-ACK not asked for"
        );
        c.take_events();
        // Asked for: ECE and CWR on the SYN; the SYN-ACK's ECE alone completes it (a SYN-ACK
        // with both is a peer reflecting flags it does not know).
        for (answer, agreed) in [(ECE, true), (ECE | CWR, false), (NONE, false)] {
            let conn = c.connect_with(us, (peer, 7), Some(ecn_opts(EcnMode::On)));
            let syn = c.one();
            assert_eq!(syn.repr.flags, SYN | ECE | CWR, "{f:?}");
            assert_eq!(syn.ecn, Ecn::NotEct, "a SYN is not ECT");
            c.deliver(peer, us, syn_ack_to(&syn, answer), &[]);
            let ack = c.one();
            assert_eq!(
                ack.repr.flags, ACK,
                "{f:?}: the third ACK has neither ECE nor CWR"
            );
            assert_eq!(ack.ecn, Ecn::NotEct);
            assert_eq!(c.take_events(), [Event::Connected(conn)]);
            assert_eq!(c.tcp.info(conn).unwrap().ecn, agreed, "{f:?} {answer:?}");
        }
        // RFC 3168 §6.1.1.1: the first SYN may have been dropped for its flags; the one sent
        // again is plain. A SYN-ACK with ECE (the first SYN's answer) still agrees, as Linux.
        let conn = c.connect_with(us, (peer, 7), Some(ecn_opts(EcnMode::On)));
        assert_eq!(c.one().repr.flags, SYN | ECE | CWR);
        c.advance(Duration::from_millis(1100));
        let again = c.one();
        assert_eq!(
            again.repr.flags, SYN,
            "{f:?}: the retransmitted SYN is plain"
        );
        c.deliver(peer, us, syn_ack_to(&again, ECE), &[]);
        c.take_sent();
        assert!(c.tcp.info(conn).unwrap().ecn, "{f:?}");
        c.take_events();
    }
}

// ---------------------------------------------------------------------------------------------
// The receiver: CE echoed until CWR (§6.1.3)

/// A connection accepted by listener `l` (port 80) of `c` from the peer's port `port`, with
/// ECN or without; the peer's side of it.
fn accepted(c: &mut Core, l: ListenerId, f: Family, port: u16, ecn: bool) -> (ConnId, Peer) {
    let flags = if ecn { ECE | CWR } else { NONE };
    c.deliver(f.addr(1), f.addr(2), peer_syn(port, flags), &[]);
    let sa = c.one();
    c.deliver(f.addr(1), f.addr(2), third_ack(&sa), &[]);
    let conn = c.tcp.accept(l).expect("accept");
    c.take_events();
    assert_eq!(c.tcp.info(conn).unwrap().ecn, ecn);
    let peer = Peer {
        f,
        port,
        seq: PEER_ISN + 1,
        ack: sa.repr.seq + 1,
    };
    (conn, peer)
}

/// The peer's side of a hand-played connection: where it is, what it sends.
struct Peer {
    f: Family,
    port: u16,
    seq: SeqNum,
    ack: SeqNum,
}

impl Peer {
    /// Sends `data` (none: a pure ACK) with `extra` flags in a datagram marked `ecn`.
    fn send(&mut self, c: &mut Core, extra: TcpFlags, ecn: Ecn, data: &[u8]) {
        let flags = ACK | extra | if data.is_empty() { NONE } else { PSH };
        let r = TcpRepr {
            src_port: self.port,
            dst_port: 80,
            seq: self.seq,
            ack: self.ack,
            flags,
            ..PEER_TEMPL
        };
        c.deliver_ecn(self.f.addr(1), self.f.addr(2), ecn, r, data);
        self.seq += data.len() as u32;
    }

    /// Sends `data` and returns the one segment that answers it.
    #[track_caller]
    fn exchange(&mut self, c: &mut Core, extra: TcpFlags, ecn: Ecn, data: &[u8]) -> Sent {
        self.send(c, extra, ecn, data);
        c.one()
    }
}

#[test]
fn a_ce_mark_is_echoed_on_every_segment_until_cwr_and_only_with_ecn() {
    let mut c = Core::new("enc", TcpConfig::default(), 5);
    let l = c.listen(80);
    for f in Family::BOTH {
        let (conn, mut p) = accepted(&mut c, l, f, 40000, true);
        let echoes = |s: &Sent| has(s, ECE);
        assert!(!echoes(&p.exchange(&mut c, NONE, Ecn::Ect0, b"one")));
        // CE: acknowledged at once (no delayed ACK by default, but Linux quick-ACKs too), ECE.
        let a = p.exchange(&mut c, NONE, Ecn::Ce, b"two");
        assert!(echoes(&a) && a.ecn == Ecn::NotEct, "{f:?}: {a:?}");
        assert_eq!(a.repr.ack, p.seq, "it acknowledges the marked data");
        // ECE stays on every segment, ours with data included, until CWR.
        assert!(echoes(&p.exchange(&mut c, NONE, Ecn::Ect0, b"three")));
        assert_eq!(c.send(conn, b"reply"), 5);
        let data = c.one();
        assert!(echoes(&data) && data.ecn == Ecn::Ect0, "{f:?}: {data:?}");
        p.ack += 5;
        p.send(&mut c, NONE, Ecn::NotEct, &[]);
        c.expect_nothing();
        // CWR (on data) ends it.
        assert!(
            !echoes(&p.exchange(&mut c, CWR, Ecn::Ect0, b"four")),
            "{f:?}"
        );
        assert!(!echoes(&p.exchange(&mut c, NONE, Ecn::Ect0, b"five")));
        // CWR and CE together: the mark is news after the CWR, ECE again.
        assert!(echoes(&p.exchange(&mut c, CWR, Ecn::Ce, b"six")), "{f:?}");
        // CWR on a pure ACK ends it too (Linux accepts it there).
        p.send(&mut c, CWR, Ecn::NotEct, &[]);
        c.expect_nothing();
        assert!(
            !echoes(&p.exchange(&mut c, NONE, Ecn::Ect0, b"seven")),
            "{f:?}"
        );
        // A CE mark on data outside the window is not taken.
        let mut far = Peer {
            seq: p.seq + 10_000_000,
            ..p
        };
        let oow = far.exchange(&mut c, NONE, Ecn::Ce, b"far");
        assert!(!echoes(&oow) && oow.repr.ack == p.seq, "{f:?}: {oow:?}");
        assert!(!echoes(&p.exchange(&mut c, NONE, Ecn::Ect0, b"eight")));
        assert_eq!(c.read(conn).len(), 32, "every in-window byte delivered");
        // Without ECN, a CE mark is nothing to TCP, and nothing goes out ECT.
        let (conn, mut p) = accepted(&mut c, l, f, 40001, false);
        assert!(
            !has(&p.exchange(&mut c, NONE, Ecn::Ce, b"data"), ECE),
            "{f:?}"
        );
        assert_eq!(c.send(conn, b"reply"), 5);
        let data = c.one();
        assert_eq!(
            (data.repr.flags, data.ecn),
            (ACK | PSH, Ecn::NotEct),
            "{f:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The sender: ECT(0), one reduction per window, CWR (§6.1.1, §6.1.2, §6.1.5)

/// An ECN connection accepted by listener `l` of `c` whose application queued `n` bytes:
/// the connection, the peer, and the segments of the initial window that went out.
fn sending(c: &mut Core, l: ListenerId, f: Family, n: usize) -> (ConnId, Peer, Vec<Sent>) {
    let (conn, peer) = accepted(c, l, f, 40000, true);
    let data = vec![0x5a; n];
    assert_eq!(c.send(conn, &data), n);
    (conn, peer, c.take_sent())
}

/// Ends the connection of a family's round, so the next round's segments are its own.
fn done(c: &mut Core, conn: ConnId) {
    c.abort(conn);
    c.take_sent();
}

/// The core's ECN reductions and `TcpExtTCPDeliveredCE` so far.
fn ecn_counts(c: &Core) -> (u64, u64) {
    let k = c.tcp.counters();
    (k.ecn_reductions, k.delivered_ce)
}

#[test]
fn an_echo_reduces_the_window_once_per_window_of_data() {
    let mut c = Core::new("enw", newreno(), 6);
    let l = c.listen(80);
    for f in Family::BOTH {
        let (reduced, delivered) = ecn_counts(&c);
        let reductions = |c: &Core| ecn_counts(c).0 - reduced;
        let (conn, mut p, first) = sending(&mut c, l, f, 100_000);
        let mss = u32::from(c.tcp.info(conn).unwrap().mss);
        assert_eq!(first.len(), 10, "{f:?}: the initial window of RFC 6928");
        assert!(first.iter().all(|s| s.ecn == Ecn::Ect0 && !has(s, CWR)));
        let end_of_window = first[9].repr.seq + mss;
        // ECE on the ACK of two segments: ssthresh is half the flight, cwnd drops to it.
        p.ack += 2 * mss;
        p.send(&mut c, ECE, Ecn::NotEct, &[]);
        let i = c.tcp.info(conn).unwrap();
        assert_eq!((i.ssthresh, i.cwnd), (5 * mss, 5 * mss), "{f:?}");
        assert_eq!(reductions(&c), 1);
        // Eight segments in flight, five allowed: nothing new.
        c.expect_nothing();
        // More ECE (the peer has not seen our CWR yet): no second reduction this window.
        p.ack += 4 * mss;
        p.send(&mut c, ECE, Ecn::NotEct, &[]);
        let sent = c.take_sent();
        assert_eq!(sent.len(), 1, "{f:?}: four in flight, five allowed");
        let cwr = &sent[0];
        assert!(has(cwr, CWR) && cwr.ecn == Ecn::Ect0, "{f:?}: {sent:?}");
        assert_eq!(cwr.repr.seq, end_of_window, "CWR on the first new data");
        // Up to the end of the window (the point of the reduction), still the same window;
        // and the window does not grow on an echo.
        p.ack = end_of_window;
        p.send(&mut c, ECE, Ecn::NotEct, &[]);
        let sent = c.take_sent();
        assert!(
            !sent.is_empty() && sent.iter().all(|s| !has(s, CWR)),
            "{f:?}"
        );
        assert_eq!(reductions(&c), 1);
        assert_eq!(c.tcp.info(conn).unwrap().cwnd, 5 * mss, "{f:?}: no growth");
        // Beyond it, an echo is a new congestion signal: a second reduction, a second CWR.
        p.ack += mss;
        p.send(&mut c, ECE, Ecn::NotEct, &[]);
        assert_eq!(reductions(&c), 2, "{f:?}");
        let flight = 5 * mss;
        let want = (flight / 2).max(2 * mss);
        assert_eq!(c.tcp.info(conn).unwrap().ssthresh, want, "{f:?}");
        assert_eq!(
            ecn_counts(&c).1 - delivered,
            11,
            "{f:?}: segments acked with ECE"
        );
        let mut out = c.take_sent();
        p.ack += 4 * mss;
        p.send(&mut c, NONE, Ecn::NotEct, &[]);
        out.extend(c.take_sent());
        let cwrs: Vec<&Sent> = out.iter().filter(|s| has(s, CWR)).collect();
        assert_eq!(
            cwrs.len(),
            1,
            "{f:?}: one CWR for the second reduction: {out:?}"
        );
        assert!(std::ptr::eq(cwrs[0], &out[0]), "on the first new data");
        done(&mut c, conn);
    }
}

#[test]
fn no_echo_reduction_during_fast_recovery_whose_cwr_announces_both() {
    let mut c = Core::new("enq", TcpConfig::default(), 6);
    let l = c.listen(80);
    for f in Family::BOTH {
        let reduced = ecn_counts(&c).0;
        let fast = c.tcp.counters().fast_retrans;
        let (conn, mut p, first) = sending(&mut c, l, f, 100_000);
        // The first segment is lost: three duplicate ACKs start fast recovery (RFC 5681 §3.2;
        // the first two let new data out, RFC 3042, before any reduction).
        let mut sent = first;
        for _ in 0..3 {
            p.send(&mut c, NONE, Ecn::NotEct, &[]);
            sent.extend(c.take_sent());
        }
        assert_eq!(c.tcp.counters().fast_retrans, fast + 1, "{f:?}");
        let ssthresh = c.tcp.info(conn).unwrap().ssthresh;
        let mut out = Vec::new();
        // ECE during recovery: the loss reduction stands for it.
        p.send(&mut c, ECE, Ecn::NotEct, &[]);
        out.extend(c.take_sent());
        assert_eq!(ecn_counts(&c).0, reduced, "{f:?}");
        assert_eq!(c.tcp.info(conn).unwrap().ssthresh, ssthresh);
        // Everything sent so far acknowledged, with ECE still on: recovery is over, but this
        // is still the window the loss reduction answered.
        let high = sent
            .iter()
            .map(|s| s.repr.seq + s.seq_len())
            .fold(p.ack, later);
        p.ack = high;
        p.send(&mut c, ECE, Ecn::NotEct, &[]);
        out.extend(c.take_sent());
        assert_eq!(ecn_counts(&c).0, reduced, "{f:?}");
        // The first new data after the loss reduction carries CWR, and no other segment.
        let new: Vec<&Sent> = out
            .iter()
            .filter(|s| !s.payload.is_empty() && s.repr.seq.ge(high))
            .collect();
        assert!(!new.is_empty(), "{f:?}: {out:?}");
        assert!(
            has(new[0], CWR) && new[0].ecn == Ecn::Ect0,
            "{f:?}: {new:?}"
        );
        assert_eq!(out.iter().filter(|s| has(s, CWR)).count(), 1, "{f:?}");
        assert!(
            sent.iter().all(|s| !has(s, CWR)),
            "none before the reduction"
        );
        done(&mut c, conn);
    }
}

/// The later of two sequence numbers.
fn later(a: SeqNum, b: SeqNum) -> SeqNum {
    if b.gt(a) { b } else { a }
}

#[test]
fn cwr_goes_alone_not_on_a_tso_frame() {
    let tso = |ip: u16| PathCaps {
        max_segment: 1500 - ip,
        tso: Some(TsoCaps {
            max_wire_segment: 1500 - ip,
            max_segs: 44,
            max_payload: 65_000,
        }),
    };
    let caps = LinkCaps {
        v4: tso(20),
        v6: tso(40),
    };
    let mut c = Core::with_caps("ent", newreno(), 6, caps);
    let l = c.listen(80);
    for f in Family::BOTH {
        let (conn, mut p, first) = sending(&mut c, l, f, 200_000);
        let mss = u32::from(c.tcp.info(conn).unwrap().mss);
        assert!(
            first.iter().any(|s| s.tso_segsz.is_some()),
            "{f:?}: TSO in use"
        );
        // Eight of ten segments acknowledged with ECE: cwnd 5, two in flight, three to send.
        p.ack += 8 * mss;
        p.send(&mut c, ECE, Ecn::NotEct, &[]);
        let sent = c.take_sent();
        assert!(sent.len() >= 2, "{f:?}: {sent:?}");
        let (head, rest) = (&sent[0], &sent[1..]);
        assert!(has(head, CWR), "{f:?}");
        assert_eq!((head.payload.len(), head.tso_segsz), (mss as usize, None));
        assert!(rest.iter().all(|s| !has(s, CWR) && s.ecn == Ecn::Ect0));
        assert!(
            rest.iter().any(|s| s.tso_segsz.is_some()),
            "{f:?}: the rest as TSO"
        );
        let bytes: usize = sent.iter().map(|s| s.payload.len()).sum();
        assert_eq!(bytes, 3 * mss as usize, "{f:?}");
        done(&mut c, conn);
    }
}

#[test]
fn retransmissions_and_probes_are_not_ect_and_a_timeout_is_announced() {
    let mut c = Core::new("eno", newreno(), 6);
    let l = c.listen(80);
    for f in Family::BOTH {
        let reduced = ecn_counts(&c).0;
        let (conn, mut p, first) = sending(&mut c, l, f, 100_000);
        let mss = u32::from(c.tcp.info(conn).unwrap().mss);
        let high = first
            .iter()
            .map(|s| s.repr.seq + s.seq_len())
            .fold(p.ack, later);
        // Nothing acknowledged: the retransmission timeout (1 s, RFC 6298) sends the first
        // segment again, Not-ECT (§6.1.5), without CWR (new data only).
        // (Before it, the tail loss probe sends one new segment: new data, so ECT(0).)
        c.advance(Duration::from_millis(1100));
        let sent = c.take_sent();
        let (rtx, probe): (Vec<&Sent>, Vec<&Sent>) = sent.iter().partition(|s| s.repr.seq.lt(high));
        assert!(!rtx.is_empty(), "{f:?}: a retransmission");
        for s in &rtx {
            assert!(s.ecn == Ecn::NotEct && !has(s, CWR), "{s:?}");
        }
        assert!(probe.iter().all(|s| s.ecn == Ecn::Ect0), "{probe:?}");
        let high = probe
            .iter()
            .map(|s| s.repr.seq + s.seq_len())
            .fold(high, later);
        // ECE while the timeout's recovery is under way: no second reduction.
        p.ack += mss;
        p.send(&mut c, ECE, Ecn::NotEct, &[]);
        assert_eq!(ecn_counts(&c).0, reduced, "{f:?}");
        // Everything acknowledged: the first new data announces the timeout's reduction.
        p.ack = high;
        p.send(&mut c, NONE, Ecn::NotEct, &[]);
        let out = c.take_sent();
        let new: Vec<&Sent> = out.iter().filter(|s| s.repr.seq.ge(high)).collect();
        assert!(!new.is_empty(), "{f:?}: {out:?}");
        assert!(
            has(new[0], CWR) && new[0].ecn == Ecn::Ect0,
            "{f:?}: {new:?}"
        );
        assert_eq!(new.iter().filter(|s| has(s, CWR)).count(), 1);
        // A zero-window probe is no data: Not-ECT (§6.1.4).
        let end = out
            .iter()
            .map(|s| s.repr.seq + s.seq_len())
            .fold(high, later);
        let closed = TcpRepr {
            src_port: p.port,
            dst_port: 80,
            seq: p.seq,
            ack: end,
            window: 0,
            ..PEER_TEMPL
        };
        c.deliver(f.addr(1), f.addr(2), closed, &[]);
        c.expect_nothing();
        c.advance(Duration::from_secs(2));
        let probes = c.take_sent();
        assert!(!probes.is_empty(), "{f:?}: the persist timer probes");
        for s in &probes {
            assert!(s.payload.is_empty() && s.ecn == Ecn::NotEct, "{f:?}: {s:?}");
        }
        done(&mut c, conn);
    }
}

// ---------------------------------------------------------------------------------------------
// Two cores and a marking router

/// Every segment of a transfer as it was sent, by side.
#[derive(Default)]
struct Trace {
    segs: Vec<(char, Sent)>,
}

impl Trace {
    /// The segments `side` sent.
    fn of(&self, side: char) -> impl Iterator<Item = &Sent> {
        self.segs
            .iter()
            .filter(move |(s, _)| *s == side)
            .map(|(_, s)| s)
    }
}

/// Runs `p` until every byte of `data` A sends reaches B's application; returns the trace.
fn transfer(p: &mut Pair, conns: (ConnId, ConnId), data: &[u8]) -> Trace {
    transfer_marking(p, conns, data, 0)
}

/// [`transfer`] through a router that marks CE on A's `ce_at`-th data segment (1-based; 0:
/// none).
fn transfer_marking(p: &mut Pair, (c, s): (ConnId, ConnId), data: &[u8], ce_at: usize) -> Trace {
    let trace = std::cell::RefCell::new(Trace::default());
    let (mut sent, mut got, mut n_mark) = (0, Vec::new(), 0);
    for _ in 0..10_000 {
        if sent < data.len() {
            sent += p.a.send(c, &data[sent..]);
        }
        got.extend(p.b.read(s));
        if got.len() == data.len() {
            break;
        }
        let record = |side: char, seg: &Sent| {
            trace.borrow_mut().segs.push((side, seg.clone()));
            false
        };
        let mark = |side: char, seg: &Sent| {
            n_mark += usize::from(side == 'a' && !seg.payload.is_empty());
            side == 'a' && !seg.payload.is_empty() && n_mark == ce_at
        };
        p.run_marking(Duration::from_millis(50), record, mark);
    }
    assert!(got == data, "{} of {} bytes", got.len(), data.len());
    trace.into_inner()
}

/// A pair whose A asks for ECN and whose B listens on port 7 (accepting it).
fn ecn_pair(name: &str) -> (Pair, ListenerId) {
    let mut p = Pair::with(name, Family::V4, ecn_cfg(EcnMode::On), TcpConfig::default());
    let l = p.b.listen(7);
    (p, l)
}

/// A connected to B over family `f`: (client, server), ECN agreed.
fn ecn_connect(p: &mut Pair, l: ListenerId, f: Family) -> (ConnId, ConnId) {
    let c = p.a.connect(f.addr(1), (f.addr(2), 7));
    p.run(Duration::from_millis(10), |_, _| false);
    assert!(p.a.take_events().contains(&Event::Connected(c)));
    let s = p.b.tcp.accept(l).expect("accepted");
    p.b.take_events();
    assert!(p.a.tcp.info(c).unwrap().ecn && p.b.tcp.info(s).unwrap().ecn);
    (c, s)
}

/// Checks that `side` sent ECT(0) on new data and on nothing else (§6.1.1, §6.1.5); returns
/// how many data segments it sent again.
fn ect_on_new_data_only(t: &Trace, side: char) -> usize {
    let mut high: Option<SeqNum> = None;
    let mut retransmitted = 0;
    for s in t.of(side) {
        let end = s.repr.seq + s.seq_len();
        let new = !s.payload.is_empty() && high.is_none_or(|h| s.repr.seq.ge(h));
        let want = if new { Ecn::Ect0 } else { Ecn::NotEct };
        assert_eq!(s.ecn, want, "{side}: {s:?}");
        retransmitted += usize::from(!new && !s.payload.is_empty());
        if high.is_none_or(|h| end.gt(h)) {
            high = Some(end);
        }
    }
    retransmitted
}

#[test]
fn ect0_marks_new_data_and_nothing_else_both_ways() {
    let (mut p, l) = ecn_pair("ene");
    for f in Family::BOTH {
        let (c, s) = ecn_connect(&mut p, l, f);
        let up: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let t = transfer(&mut p, (c, s), &up);
        assert_eq!(ect_on_new_data_only(&t, 'a'), 0, "{f:?}");
        assert_eq!(ect_on_new_data_only(&t, 'b'), 0, "{f:?}");
        assert!(t.of('a').all(|s| !has(s, CWR)) && t.of('b').all(|s| !has(s, ECE)));
        // And back: B's data is ECT(0) too; its FIN and every pure ACK are not.
        let down: Vec<u8> = (0..50_000u32).map(|i| (i % 241) as u8).collect();
        std::mem::swap(&mut p.a, &mut p.b);
        let t = transfer(&mut p, (s, c), &down);
        assert_eq!(ect_on_new_data_only(&t, 'a'), 0, "{f:?}");
        assert_eq!(ect_on_new_data_only(&t, 'b'), 0, "{f:?}");
        assert!(t.of('a').any(|s| s.ecn == Ecn::Ect0), "{f:?}");
        p.a.shutdown(s);
        p.run(Duration::from_millis(10), |side, seg| {
            assert_eq!(seg.ecn, Ecn::NotEct, "{side}: {seg:?}");
            false
        });
        std::mem::swap(&mut p.a, &mut p.b);
    }
}

#[test]
fn a_marked_segment_costs_one_reduction_and_the_echo_stops_at_cwr() {
    let (mut p, l) = ecn_pair("enm");
    for f in Family::BOTH {
        let (reduced, delivered) = ecn_counts(&p.a);
        let retrans = p.a.tcp.counters().retrans_segs;
        let (c, s) = ecn_connect(&mut p, l, f);
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        let t = transfer_marking(&mut p, (c, s), &data, 20);
        assert_eq!(ecn_counts(&p.a).0 - reduced, 1, "{f:?}");
        assert!(ecn_counts(&p.a).1 > delivered, "{f:?}");
        assert_eq!(p.a.tcp.counters().retrans_segs, retrans, "{f:?}");
        let cwr: Vec<&Sent> = t.of('a').filter(|s| has(s, CWR)).collect();
        assert_eq!(cwr.len(), 1, "{f:?}: one CWR");
        let cwr_seq = cwr[0].repr.seq;
        // B echoed until it had the CWR segment, and not after.
        let echoes: Vec<&Sent> = t.of('b').filter(|s| has(s, ECE)).collect();
        assert!(!echoes.is_empty(), "{f:?}");
        assert!(echoes.iter().all(|e| e.repr.ack.le(cwr_seq)), "{f:?}");
        assert!(t.of('b').any(|b| b.repr.ack.gt(cwr_seq) && !has(b, ECE)));
        assert!(
            t.of('b').all(|b| b.ecn == Ecn::NotEct),
            "B sent pure ACKs only"
        );
    }
}
