//! The TCP core through its segment boundary alone, in IPv4 and IPv6: segments in, segments
//! out, no device, link or neighbour resolution (see `sans_io/mod.rs`). Each test runs in
//! both families.

mod sans_io;

use std::time::Duration;

use engine::tcp::{Event, State, TcpConfig, TcpError};
use engine::wire::{SeqNum, TcpFlags, TcpRepr};
use sans_io::{Core, Family, PEER_TEMPL, Pair, Sent};

const ACK: TcpFlags = TcpFlags::ACK;
const SYN: TcpFlags = TcpFlags::SYN;
const RST: TcpFlags = TcpFlags::RST;
const PSH: TcpFlags = TcpFlags::PSH;

/// The data the tests send: a position-dependent pattern.
fn pattern(n: usize, salt: u8) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8 ^ salt).collect()
}

#[test]
fn passive_handshake_offers_options_and_the_family_mss() {
    for f in Family::BOTH {
        let mut c = Core::new(&format!("cph{f:?}"), TcpConfig::default(), 3);
        let (us, peer) = (f.addr(2), f.addr(1));
        let l = c.listen(80);
        let syn = TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: SeqNum(1000),
            flags: SYN,
            mss: Some(1400),
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: Some((77, 0)),
            ..PEER_TEMPL
        };
        c.deliver(peer, us, syn, &[]);
        let sa = c.one();
        assert_eq!((sa.tuple.local_ip, sa.tuple.remote_ip), (us, peer), "{f:?}");
        let r = sa.repr;
        assert_eq!(r.flags, SYN | ACK, "{f:?}");
        assert_eq!(r.ack, SeqNum(1001));
        assert_eq!(r.mss, Some(f.mss()), "{f:?}: our MSS is the family's");
        assert!(r.window_scale.is_some() && r.sack_permitted);
        assert_eq!(
            r.timestamps.map(|t| t.1),
            Some(77),
            "TSecr echoes the SYN's TSval"
        );
        assert!(
            c.take_events().is_empty(),
            "nothing to accept before the ACK"
        );
        let ack = TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: SeqNum(1001),
            ack: r.seq + 1,
            timestamps: Some((78, r.timestamps.unwrap().0)),
            ..PEER_TEMPL
        };
        c.deliver(peer, us, ack, &[]);
        c.expect_nothing();
        assert_eq!(c.take_events(), [Event::Acceptable(l)]);
        let conn = c.tcp.accept(l).expect("accept");
        let i = c.tcp.info(conn).unwrap();
        assert_eq!(i.state, State::Established);
        assert_eq!(i.remote, (peer, 40000).into());
        // The peer's 1400 and ours: the smaller, less the timestamp option.
        assert_eq!(i.mss, f.mss().min(1400) - 12, "{f:?}");
    }
}

#[test]
fn a_syn_without_mss_gets_the_family_default() {
    for (f, default) in [(Family::V4, 536), (Family::V6, 1220)] {
        let mut c = Core::new(&format!("cdm{f:?}"), TcpConfig::default(), 3);
        let l = c.listen(80);
        let syn = TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: SeqNum(5),
            flags: SYN,
            ..PEER_TEMPL
        };
        c.deliver(f.addr(1), f.addr(2), syn, &[]);
        let sa = c.one().repr;
        // Nothing offered, nothing echoed (RFC 7323, RFC 2018).
        assert_eq!(
            (sa.window_scale, sa.sack_permitted, sa.timestamps),
            (None, false, None)
        );
        let ack = TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: SeqNum(6),
            ack: sa.seq + 1,
            ..PEER_TEMPL
        };
        c.deliver(f.addr(1), f.addr(2), ack, &[]);
        let conn = c.tcp.accept(l).expect("accept");
        assert_eq!(c.tcp.info(conn).unwrap().mss, default, "{f:?}");
    }
}

#[test]
fn active_open_sends_syn_and_completes_on_syn_ack() {
    for f in Family::BOTH {
        let mut c = Core::new(&format!("cao{f:?}"), TcpConfig::default(), 4);
        let (us, peer) = (f.addr(1), f.addr(2));
        let conn = c.connect(us, (peer, 7));
        let syn = c.one();
        assert_eq!(syn.repr.flags, SYN, "{f:?}");
        assert_eq!(syn.repr.mss, Some(f.mss()));
        assert_eq!(
            (syn.tuple.local_ip, syn.tuple.remote()),
            (us, (peer, 7).into())
        );
        let syn_ack = TcpRepr {
            src_port: 7,
            dst_port: syn.repr.src_port,
            seq: SeqNum(9000),
            ack: syn.repr.seq + 1,
            flags: SYN | ACK,
            mss: Some(1460),
            ..PEER_TEMPL
        };
        c.deliver(peer, us, syn_ack, &[]);
        let ack = c.one().repr;
        assert_eq!(
            (ack.flags, ack.seq, ack.ack),
            (ACK, syn.repr.seq + 1, SeqNum(9001))
        );
        assert_eq!(c.take_events(), [Event::Connected(conn)]);
        assert_eq!(c.tcp.info(conn).unwrap().state, State::Established);
    }
}

/// Connects A to B's listener through the pair and returns (client, server) handles.
fn established(p: &mut Pair) -> (engine::tcp::ConnId, engine::tcp::ConnId) {
    let l = p.b.listen(7);
    let (a_ip, b_ip) = (p.family.addr(1), p.family.addr(2));
    let c = p.a.connect(a_ip, (b_ip, 7));
    p.run(Duration::from_millis(10), |_, _| false);
    assert!(
        p.a.take_events()
            .contains(&engine::tcp::Event::Connected(c))
    );
    let s = p.b.tcp.accept(l).expect("accepted");
    p.b.take_events();
    (c, s)
}

/// Sends `data` from `from` to `to` over `p` until every byte is read, dropping what `drop`
/// says; returns the bytes read.
fn transfer(
    p: &mut Pair,
    a_to_b: bool,
    c: engine::tcp::ConnId,
    s: engine::tcp::ConnId,
    data: &[u8],
    drop: &mut dyn FnMut(char, &Sent) -> bool,
) -> Vec<u8> {
    let (mut sent, mut got) = (0, Vec::new());
    for _ in 0..10_000 {
        let (tx, rx, cs, cr) = if a_to_b {
            (&mut p.a, &mut p.b, c, s)
        } else {
            (&mut p.b, &mut p.a, s, c)
        };
        if sent < data.len() {
            sent += tx.send(cs, &data[sent..]);
        }
        got.extend(rx.read(cr));
        if got.len() == data.len() {
            break;
        }
        p.run(Duration::from_millis(50), |side, s| drop(side, s));
    }
    got
}

#[test]
fn data_flows_both_ways_through_the_boundary() {
    for f in Family::BOTH {
        let mut p = Pair::new(&format!("cdb{f:?}"), f);
        let (c, s) = established(&mut p);
        let up = pattern(300_000, 1);
        let down = pattern(200_000, 2);
        // The largest payload each side put in one segment (no TSO on this link).
        let mut largest = [0usize; 2];
        let mut watch = |side: char, seg: &Sent| {
            let i = usize::from(side == 'b');
            largest[i] = largest[i].max(seg.payload.len());
            false
        };
        assert!(
            transfer(&mut p, true, c, s, &up, &mut watch) == up,
            "{f:?} A to B"
        );
        assert!(
            transfer(&mut p, false, c, s, &down, &mut watch) == down,
            "{f:?} B to A"
        );
        let (ia, ib) = (p.a.tcp.info(c).unwrap(), p.b.tcp.info(s).unwrap());
        assert_eq!((ia.unacked_bytes, ib.unacked_bytes), (0, 0));
        assert_eq!(
            p.a.tcp.counters().retrans_segs + p.b.tcp.counters().retrans_segs,
            0
        );
        // Segments never exceed the MSS the pair agreed on, and fill it on a bulk transfer.
        assert_eq!(largest, [usize::from(ia.mss), usize::from(ib.mss)], "{f:?}");
    }
}

#[test]
fn a_lost_segment_is_retransmitted_and_the_stream_stays_intact() {
    for f in Family::BOTH {
        let mut p = Pair::new(&format!("cls{f:?}"), f);
        let (c, s) = established(&mut p);
        let data = pattern(100_000, 3);
        // Drop the third and the tenth data segments A sends, once each.
        let mut n = 0;
        let mut drop = |side: char, seg: &Sent| {
            if side != 'a' || seg.payload.is_empty() {
                return false;
            }
            n += 1;
            n == 3 || n == 10
        };
        let got = transfer(&mut p, true, c, s, &data, &mut drop);
        assert!(got == data, "{f:?}: {} of {} bytes", got.len(), data.len());
        assert_eq!(p.dropped, 2);
        assert!(p.a.tcp.counters().retrans_segs >= 2, "{f:?}");
        assert!(
            p.b.tcp.counters().ofo_queue > 0,
            "the receiver held data beyond the hole"
        );
    }
}

#[test]
fn a_lost_syn_is_retransmitted_with_backoff() {
    for f in Family::BOTH {
        let mut p = Pair::new(&format!("csy{f:?}"), f);
        p.b.listen(7);
        let c = p.a.connect(f.addr(1), (f.addr(2), 7));
        let mut syns = 0;
        p.run(Duration::from_secs(5), |side, s| {
            let first = side == 'a' && s.repr.flags == SYN && syns == 0;
            syns += usize::from(side == 'a' && s.repr.flags == SYN);
            first
        });
        assert_eq!(syns, 2, "{f:?}: the first SYN lost, the second answered");
        assert!(p.a.take_events().contains(&Event::Connected(c)));
        assert_eq!(p.a.tcp.counters().retrans_segs, 1);
    }
}

#[test]
fn close_both_ways_ends_in_time_wait_and_closed() {
    for f in Family::BOTH {
        let mut p = Pair::new(&format!("ccl{f:?}"), f);
        let (c, s) = established(&mut p);
        p.a.shutdown(c);
        p.run(Duration::from_millis(10), |_, _| false);
        assert_eq!(p.a.tcp.info(c).unwrap().state, State::FinWait2, "{f:?}");
        assert_eq!(p.b.tcp.info(s).unwrap().state, State::CloseWait);
        assert!(p.b.read(s).is_empty(), "end of file, no data");
        assert_eq!(p.b.tcp.recv(s, &mut [0u8; 8]), Ok(0));
        p.b.close(s);
        p.run(Duration::from_millis(10), |_, _| false);
        assert_eq!(p.a.tcp.info(c).unwrap().state, State::TimeWait);
        assert_eq!(p.a.tcp.time_wait(), 1);
        assert!(p.a.take_events().contains(&Event::Closed(c, None)));
        // B's side is gone (closed by the application, then LAST-ACK acknowledged).
        assert_eq!(p.b.tcp.connections(), 0, "{f:?}");
        assert_eq!(p.b.tcp.curr_estab(), 0);
        // TIME-WAIT ends after 2·MSL.
        p.a.advance(Duration::from_secs(61));
        assert_eq!(p.a.tcp.time_wait(), 0);
    }
}

#[test]
fn a_segment_for_no_connection_is_answered_with_rst() {
    for f in Family::BOTH {
        let mut c = Core::new(&format!("crs{f:?}"), TcpConfig::default(), 5);
        // A SYN to a closed port: <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK> (RFC 9293 §3.10.7.1).
        let syn = TcpRepr {
            src_port: 40000,
            dst_port: 81,
            seq: SeqNum(700),
            flags: SYN,
            ..PEER_TEMPL
        };
        c.deliver(f.addr(1), f.addr(2), syn, &[]);
        let r = c.one();
        assert_eq!(
            (r.repr.flags, r.repr.seq, r.repr.ack),
            (RST | ACK, SeqNum(0), SeqNum(701))
        );
        assert_eq!(
            (r.tuple.remote_ip, r.tuple.remote_port),
            (f.addr(1), 40000),
            "{f:?}"
        );
        // An ACK with data for no connection: <SEQ=SEG.ACK><CTL=RST>.
        let data = TcpRepr {
            src_port: 40000,
            dst_port: 81,
            seq: SeqNum(701),
            ack: SeqNum(5555),
            flags: ACK | PSH,
            ..PEER_TEMPL
        };
        c.deliver(f.addr(1), f.addr(2), data, b"hello");
        let r = c.one().repr;
        assert_eq!((r.flags, r.seq), (RST, SeqNum(5555)));
        // Never a RST for a RST.
        c.deliver(f.addr(1), f.addr(2), TcpRepr { flags: RST, ..data }, &[]);
        c.expect_nothing();
        assert_eq!(c.tcp.counters().out_rsts, 2);
    }
}

#[test]
fn rst_resets_an_established_connection_and_abort_sends_one() {
    for f in Family::BOTH {
        let mut p = Pair::new(&format!("crr{f:?}"), f);
        let (c, s) = established(&mut p);
        p.a.abort(c);
        let rst = p.a.take_sent();
        assert_eq!(rst.len(), 1, "{f:?}");
        assert_eq!(rst[0].repr.flags, RST | ACK);
        let (src, dst) = (rst[0].tuple.local_ip, rst[0].tuple.remote_ip);
        p.b.deliver(src, dst, rst[0].repr, &[]);
        assert!(
            p.b.take_events()
                .contains(&Event::Closed(s, Some(TcpError::Reset)))
        );
        assert_eq!(p.b.tcp.info(s).unwrap().state, State::Closed);
        assert_eq!(p.b.tcp.counters().estab_resets, 1);
    }
}
