//! Black-box TCP scripts, run against `serve echo` and against the Linux kernel and compared
//! (the devices, the peer and what is compared: `common/blackbox.rs`; the peer's TCP end:
//! `common/blackbox_conn.rs`); IPv6 and IPv4 each:
//! - handshake with MSS 1400, window scale 7, SACK-permitted and timestamps; the SYN again
//!   before the ACK (the SYN-ACK again, same ISN); then the ACK, and nothing more;
//! - echo of three segments (100, 200, 300 bytes, PSH on the last), our ISN just below 2^32
//!   so that sequence numbers wrap; then 3000 bytes echoed in segments of 1400 - 12 (MSS
//!   less the timestamps option); then 50 bytes without the timestamps option (still
//!   echoed); then our FIN, answered by the device's;
//! - closed port: a SYN gets RST,ACK seq 0 ack SYN+1 (a SYN with data, a FIN: ack past
//!   them); an ACK gets RST seq = its ack, at a closed port and at the listening one; a RST
//!   gets nothing;
//! - default MSS: a SYN with no options gets a SYN-ACK with MSS only, and a 3000-byte echo
//!   comes back in segments of at most 1220 (IPv6) / 536 (IPv4) bytes, the largest exactly
//!   that;
//! - data beyond a hole gets a duplicate ACK with the SACK block;
//! - SYN+FIN at the listening port: discarded, as Linux discards it.

#[path = "common/blackbox.rs"]
mod blackbox;
#[path = "common/blackbox_conn.rs"]
mod blackbox_conn;
mod common;

use std::time::Instant;

use blackbox::{Addressing, Dut, ECHO_PORT, Fam, SILENCE, on_both};
use blackbox_conn::{Conn, SynAck, full_syn_options};
use common::packets::{self as pk, ACK, FIN, PSH, Parsed, RST, SYN, Tcp, TcpOpt, URG};

const CLOSED_PORT: u16 = 4444;

// ---------------------------------------------------------------------------------------------
// The handshake with every option

#[derive(Debug, PartialEq, Eq)]
struct Handshake {
    synack: SynAck,
    synack_to: Addressing,
    to_repeated_syn: RepeatedSyn,
    /// Segments of the connection from the device in the [`SILENCE`] after our ACK.
    after_our_ack: Vec<String>,
}

/// The answer to the SYN sent again before the ACK (as a peer does when the SYN-ACK is lost).
#[derive(Debug, PartialEq, Eq)]
struct RepeatedSyn {
    flags: String,
    /// The same ISN as the first SYN-ACK.
    same_seq: bool,
    ack_is_our_isn_plus_1: bool,
    /// Which of our TSvals TSecr echoes: 1 (the first SYN's), 2 (the repeated SYN's), 0: other.
    tsecr_echoes: usize,
}

fn handshake_script(d: &Dut, fam: Fam) -> Handshake {
    d.introduce(fam);
    let mut c = Conn::new(d, fam, 40201, ECHO_PORT, 0x2468_ace0);
    c.send_syn(full_syn_options(0));
    let p = d.expect("SYN-ACK", |p| c.ours(p).is_some());
    let t = c.ours(&p).expect("ours").clone();
    let synack = SynAck::of(&c, &t);
    let synack_to = Addressing::of(d, &p);
    // The SYN again (same ISN, a newer TSval): RFC 9293 §3.10.7.4 answers the unacceptable
    // segment with an ACK, Linux with the SYN-ACK again (what a peer that lost it needs).
    c.snd_nxt = c.isn;
    c.send_syn(full_syn_options(0));
    let p = d.expect("answer to the repeated SYN", |p| c.ours(p).is_some());
    let again = c.ours(&p).expect("ours").clone();
    let to_repeated_syn = RepeatedSyn {
        flags: pk::flag_str(again.flags),
        same_seq: again.seq == t.seq,
        ack_is_our_isn_plus_1: again.ack == c.isn.wrapping_add(1),
        tsecr_echoes: again
            .timestamps()
            .and_then(|(_, ecr)| c.tsvals.iter().position(|v| *v == ecr))
            .map_or(0, |i| i + 1),
    };
    c.rcv_nxt = t.seq.wrapping_add(1);
    c.ts = t.timestamps().is_some();
    c.ts_recent = t.timestamps().map_or(0, |(v, _)| v);
    c.send(ACK, &[]);
    let deadline = Instant::now() + SILENCE;
    let mut after_our_ack = Vec::new();
    while let Some(p) = d.recv(deadline) {
        if let Some(t) = c.ours(&p) {
            after_our_ack.push(pk::flag_str(t.flags));
        }
    }
    c.abort();
    Handshake {
        synack,
        synack_to,
        to_repeated_syn,
        after_our_ack,
    }
}

fn assert_full_handshake(h: &Handshake, fam: Fam) {
    // RFC 9293 §3.5, RFC 7323 §2.2 and §3.2, RFC 2018 §2: every option offered is answered;
    // the MSS is the device's own (its MTU less the headers), compared with Linux's above.
    assert_eq!(
        (
            h.synack.flags.as_str(),
            h.synack.ack_is_our_isn_plus_1,
            h.synack.mss.is_some(),
            h.synack.window_scale,
            h.synack.sack_permitted,
            h.synack.tsecr_echoes_our_tsval,
            h.synack.sack_blocks,
            h.synack.payload
        ),
        ("S.", true, true, true, true, Some(true), false, 0)
    );
    assert_eq!(h.synack_to, Addressing::to_peer(fam));
    assert!(
        h.after_our_ack.is_empty(),
        "nothing after the handshake: {h:?}"
    );
}

#[test]
fn ipv6_handshake_with_mss_wscale_sack_and_timestamps_matches_linux() {
    let h = on_both("handshake (IPv6)", |d| handshake_script(d, Fam::V6));
    assert_full_handshake(&h, Fam::V6);
}

#[test]
fn ipv4_handshake_with_mss_wscale_sack_and_timestamps_matches_linux() {
    let h = on_both("handshake (IPv4)", |d| handshake_script(d, Fam::V4));
    assert_full_handshake(&h, Fam::V4);
}

// ---------------------------------------------------------------------------------------------
// Echo of several segments

#[derive(Debug, PartialEq, Eq)]
struct Echo {
    echoed_in_order: bool,
    /// The first byte of the echo is at the device's ISN + 1.
    echo_starts_after_isn: bool,
    /// Every acknowledgment lies between our ISN + 1 and the end of what we sent.
    acks_in_range: bool,
    acked_everything: bool,
    /// Every segment carries the timestamps option and its TSecr is a TSval we sent.
    timestamps_echo_ours: bool,
    sack_blocks: bool,
    unexpected_flags: Vec<String>,
    bad_checksums: usize,
    /// The largest segment of the echo of 3000 bytes sent as 1400 + 1400 + 200: our MSS
    /// (1400) less the timestamps option (12), RFC 6691 §2.
    largest_segment_of_3000_bytes: usize,
    /// 50 bytes sent without the timestamps option once it was negotiated came back: Linux
    /// accepts such segments (RFC 7323 §3.2 says SHOULD drop); a peer that forgets the
    /// option must see the same from the engine.
    echoed_without_timestamps: bool,
    /// After our FIN: the device acknowledged it and sent its own FIN (the echo server closes
    /// at end of file), right after the echoed bytes.
    closed_after_our_fin: bool,
    /// What the device sent after our ACK of its FIN.
    after_close: Vec<String>,
}

fn echo_script(d: &Dut, fam: Fam) -> Echo {
    d.introduce(fam);
    // Our ISN just below 2^32: our sequence numbers wrap within the 600 bytes.
    let mut c = Conn::new(d, fam, 40301, ECHO_PORT, 0xffff_fe00);
    let synack = c.connect(full_syn_options(0));
    assert!(synack.has(SYN | ACK), "SYN-ACK: {synack}");
    let irs = synack.seq;
    let sent: Vec<u8> = (0..3650u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let echo = |c: &mut Conn, cuts: &[usize], ts: bool| {
        for w in cuts.windows(2) {
            let flags = if w[1] == *cuts.last().expect("cuts") {
                PSH | ACK
            } else {
                ACK
            };
            c.send_with(flags, &sent[w[0]..w[1]], ts);
        }
        let end = *cuts.last().expect("cuts");
        c.pump_until(&format!("echo of bytes {}..{end}", cuts[0]), |c| {
            c.received.len() >= end && c.all_acked()
        });
    };
    echo(&mut c, &[0, 100, 300, 600], true);
    let large_from = c.segs.len();
    echo(&mut c, &[600, 2000, 3400, 3600], true);
    let largest_segment_of_3000_bytes = c.segs[large_from..]
        .iter()
        .map(|t| t.payload.len())
        .max()
        .unwrap_or(0);
    echo(&mut c, &[3600, 3650], false);
    c.send(FIN | ACK, &[]);
    c.pump_until("the device's FIN", |c| c.fin_received && c.all_acked());
    let fin = c.segs.iter().find(|t| t.has(FIN)).expect("a FIN").clone();
    let closed_after_our_fin =
        fin.seq.wrapping_add(fin.payload.len() as u32) == irs.wrapping_add(1 + sent.len() as u32);
    let before = c.segs.len();
    let deadline = Instant::now() + SILENCE;
    while let Some(p) = d.recv(deadline) {
        if let Some(t) = c.ours(&p).cloned() {
            c.take(&p, t);
        }
    }
    let after_close = c.segs[before..].iter().map(|t| t.to_string()).collect();
    let after_syn: Vec<&Tcp> = c.segs.iter().filter(|t| !t.has(SYN)).collect();
    let first_data = after_syn.iter().find(|t| !t.payload.is_empty());
    let sizes: Vec<usize> = after_syn.iter().map(|t| t.payload.len()).collect();
    eprintln!(
        "{:?}: segment payload sizes after the handshake: {sizes:?}",
        d.kind
    );
    let end = c.snd_nxt;
    Echo {
        echoed_in_order: c.received == sent,
        echo_starts_after_isn: first_data.is_some_and(|t| t.seq == irs.wrapping_add(1)),
        acks_in_range: after_syn.iter().all(|t| {
            t.has(ACK)
                && t.ack.wrapping_sub(c.isn.wrapping_add(1))
                    <= end.wrapping_sub(c.isn.wrapping_add(1))
        }),
        acked_everything: c.all_acked(),
        timestamps_echo_ours: after_syn.iter().all(|t| {
            t.timestamps()
                .is_some_and(|(_, ecr)| c.tsvals.contains(&ecr))
        }),
        sack_blocks: after_syn.iter().any(|t| t.has_sack_blocks()),
        unexpected_flags: after_syn
            .iter()
            .filter(|t| t.flags & (SYN | RST | URG) != 0)
            .map(|t| pk::flag_str(t.flags))
            .collect(),
        bad_checksums: c.bad_checksums,
        largest_segment_of_3000_bytes,
        echoed_without_timestamps: c.received.len() == sent.len(),
        closed_after_our_fin,
        after_close,
    }
}

fn assert_echo(e: &Echo) {
    assert_eq!(
        e,
        &Echo {
            echoed_in_order: true,
            echo_starts_after_isn: true,
            acks_in_range: true,
            acked_everything: true,
            timestamps_echo_ours: true,
            sack_blocks: false,
            unexpected_flags: Vec::new(),
            bad_checksums: 0,
            largest_segment_of_3000_bytes: 1388,
            echoed_without_timestamps: true,
            closed_after_our_fin: true,
            after_close: Vec::new(),
        }
    );
}

#[test]
fn ipv6_echo_of_three_segments_matches_linux() {
    assert_echo(&on_both("echo (IPv6)", |d| echo_script(d, Fam::V6)));
}

#[test]
fn ipv4_echo_of_three_segments_matches_linux() {
    assert_echo(&on_both("echo (IPv4)", |d| echo_script(d, Fam::V4)));
}

// ---------------------------------------------------------------------------------------------
// A closed port

/// What matters in a RST.
#[derive(Debug, PartialEq, Eq)]
struct Reset {
    flags: String,
    seq: u32,
    /// The acknowledgment less the end of the segment it answers (`None` without ACK).
    ack_past_segment: Option<u32>,
    options: Vec<TcpOpt>,
    payload: usize,
    to: Addressing,
}

#[derive(Debug, PartialEq, Eq)]
struct ClosedPort {
    to_syn: Reset,
    /// A SYN carrying 10 bytes.
    to_syn_with_data: Reset,
    /// A FIN without ACK carrying 5 bytes.
    to_fin: Reset,
    /// (`seq` here is the RST's sequence number less the ACK segment's acknowledgment.)
    to_ack: Reset,
    /// The same ACK to the listening port (no connection there): the same RST.
    to_ack_at_listener: Reset,
    /// Anything sent in answer to a RST.
    to_rst: Vec<String>,
}

fn closed_port_script(d: &Dut, fam: Fam) -> ClosedPort {
    d.introduce(fam);
    let reset = |c: &Conn, end: u32, seq_base: u32| {
        let p = d.expect("RST", |p| c.ours(p).is_some());
        let t = c.ours(&p).expect("ours").clone();
        Reset {
            flags: pk::flag_str(t.flags),
            seq: t.seq.wrapping_sub(seq_base),
            ack_past_segment: t.has(ACK).then(|| t.ack.wrapping_sub(end)),
            options: t.options.clone(),
            payload: t.payload.len(),
            to: Addressing::of(d, &p),
        }
    };
    // A SYN (with options, as a client sends it): RST,ACK seq 0, ack = SYN + 1.
    let mut syn = Conn::new(d, fam, 40401, CLOSED_PORT, 0x8000_0001);
    syn.send_syn(full_syn_options(0));
    let to_syn = reset(&syn, 0x8000_0002, 0);
    // Segments without ACK that occupy more sequence space: ack = SEG.SEQ + SEG.LEN.
    let odd = |sport: u16, flags: u8, len: usize| {
        let c = Conn::new(d, fam, sport, CLOSED_PORT, 0x7000_0000 + u32::from(sport));
        let t = c.segment(flags, Vec::new(), &vec![0x5a; len]);
        d.send(&c.frame(&t));
        reset(&c, t.seq.wrapping_add(t.seg_len()), 0)
    };
    let to_syn_with_data = odd(40405, SYN, 10);
    let to_fin = odd(40406, FIN, 5);
    // An ACK: RST with seq = its ack.
    let mut ack = Conn::new(d, fam, 40402, CLOSED_PORT, 0x0102_0304);
    ack.rcv_nxt = 0xa0b0_c0d0;
    ack.send(ACK, &[]);
    let to_ack = reset(&ack, 0x0102_0304, 0xa0b0_c0d0);
    let mut ack = Conn::new(d, fam, 40407, ECHO_PORT, 0x0102_0304);
    ack.rcv_nxt = 0xa0b0_c0d0;
    ack.send(ACK, &[]);
    let to_ack_at_listener = reset(&ack, 0x0102_0304, 0xa0b0_c0d0);
    // A RST: nothing (RFC 9293 §3.10.7.1).
    let mut rst = Conn::new(d, fam, 40403, CLOSED_PORT, 0x0badcafe);
    rst.send(RST, &[]);
    let control = Conn::new(d, fam, 40404, CLOSED_PORT, 0x4000_0000);
    let control_syn = control.segment(SYN, Vec::new(), &[]);
    let to_rst = d.silent(
        |p| rst.ours(p).is_some(),
        &control.frame(&control_syn),
        |p| control.ours(p).is_some(),
    );
    ClosedPort {
        to_syn,
        to_syn_with_data,
        to_fin,
        to_ack,
        to_ack_at_listener,
        to_rst: to_rst.iter().map(Parsed::to_string).collect(),
    }
}

fn assert_closed_port(c: &ClosedPort, fam: Fam) {
    // RFC 9293 §3.10.7.1: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> for a segment without ACK,
    // <SEQ=SEG.ACK><CTL=RST> for one with ACK; no options; nothing for a RST.
    let rst = |flags: &str, ack| Reset {
        flags: flags.into(),
        seq: 0,
        ack_past_segment: ack,
        options: Vec::new(),
        payload: 0,
        to: Addressing::to_peer(fam),
    };
    assert_eq!(c.to_syn, rst("R.", Some(0)));
    assert_eq!(c.to_syn_with_data, rst("R.", Some(0)));
    assert_eq!(c.to_fin, rst("R.", Some(0)));
    assert_eq!(c.to_ack, rst("R", None));
    assert_eq!(c.to_ack_at_listener, rst("R", None));
    assert!(c.to_rst.is_empty(), "{c:?}");
}

#[test]
fn ipv6_closed_port_resets_match_linux() {
    let c = on_both("closed port (IPv6)", |d| closed_port_script(d, Fam::V6));
    assert_closed_port(&c, Fam::V6);
}

#[test]
fn ipv4_closed_port_resets_match_linux() {
    let c = on_both("closed port (IPv4)", |d| closed_port_script(d, Fam::V4));
    assert_closed_port(&c, Fam::V4);
}

// ---------------------------------------------------------------------------------------------
// The default MSS

#[derive(Debug, PartialEq, Eq)]
struct DefaultMss {
    synack: SynAck,
    echoed_in_order: bool,
    largest_segment: usize,
    acked_everything: bool,
}

fn default_mss_script(d: &Dut, fam: Fam) -> DefaultMss {
    d.introduce(fam);
    let mut c = Conn::new(d, fam, 40501, ECHO_PORT, 0x3000_0000);
    let t = c.connect(Vec::new());
    let synack = SynAck::of(&c, &t);
    assert!(t.has(SYN | ACK), "SYN-ACK: {t}");
    // 3000 bytes in segments larger than the default MSS, within the MSS the device offered:
    // the device must cut its echo to the default MSS.
    let sent: Vec<u8> = (0..3000u32).map(|i| (i * 13 + i / 256) as u8).collect();
    let cuts: &[usize] = match fam {
        Fam::V4 => &[0, 1000, 2000, 3000],
        Fam::V6 => &[0, 1400, 2800, 3000],
    };
    for w in cuts.windows(2) {
        let flags = if w[1] == sent.len() { PSH | ACK } else { ACK };
        c.send(flags, &sent[w[0]..w[1]]);
    }
    c.pump_until("echo of 3000 bytes", |c| {
        c.received.len() >= sent.len() && c.all_acked()
    });
    c.abort();
    let sizes: Vec<usize> = c
        .segs
        .iter()
        .map(|t| t.payload.len())
        .filter(|n| *n > 0)
        .collect();
    eprintln!("{:?}: data segment sizes: {sizes:?}", d.kind);
    DefaultMss {
        synack,
        echoed_in_order: c.received == sent,
        largest_segment: sizes.iter().copied().max().unwrap_or(0),
        acked_everything: c.all_acked(),
    }
}

fn assert_default_mss(m: &DefaultMss, fam: Fam) {
    // Nothing offered, nothing answered (RFC 7323 §1.3, RFC 2018 §2); the MSS option is sent
    // anyway (RFC 9293 §3.7.1 MUST).
    assert_eq!(
        (
            m.synack.flags.as_str(),
            m.synack.ack_is_our_isn_plus_1,
            m.synack.mss.is_some(),
            m.synack.window_scale,
            m.synack.sack_permitted,
            m.synack.tsecr_echoes_our_tsval
        ),
        ("S.", true, true, false, false, None)
    );
    assert_eq!(
        (m.echoed_in_order, m.largest_segment, m.acked_everything),
        (true, fam.default_mss(), true),
        "the echo comes back in segments of at most the default MSS"
    );
}

#[test]
fn ipv6_syn_without_options_gets_default_mss_1220() {
    let m = on_both("default MSS (IPv6)", |d| default_mss_script(d, Fam::V6));
    assert_default_mss(&m, Fam::V6);
}

#[test]
fn ipv4_syn_without_options_gets_default_mss_536() {
    let m = on_both("default MSS (IPv4)", |d| default_mss_script(d, Fam::V4));
    assert_default_mss(&m, Fam::V4);
}

// ---------------------------------------------------------------------------------------------
// Out-of-order data

#[derive(Debug, PartialEq, Eq)]
struct Reorder {
    /// The device's answer to data beyond a hole: a duplicate ACK (ack = our ISN + 1) ...
    dup_ack_is_our_isn_plus_1: bool,
    /// ... with SACK blocks (RFC 2018 §4), relative to our ISN + 1.
    sack_blocks: Vec<(u32, u32)>,
    echoed_in_order: bool,
    acked_everything: bool,
}

fn reorder_script(d: &Dut, fam: Fam) -> Reorder {
    d.introduce(fam);
    let mut c = Conn::new(d, fam, 40801, ECHO_PORT, 0x5000_0000);
    let synack = c.connect(full_syn_options(0));
    assert!(synack.has(SYN | ACK), "SYN-ACK: {synack}");
    let sent: Vec<u8> = (0..300u32).map(|i| (i * 11 + 3) as u8).collect();
    let base = c.snd_nxt;
    // Bytes 100..300 first.
    c.snd_nxt = base.wrapping_add(100);
    c.send(PSH | ACK, &sent[100..]);
    let dup = c.wait("duplicate ACK", |t| t.has(ACK) && t.payload.is_empty());
    let rel = |x: u32| x.wrapping_sub(base);
    let sack_blocks = dup
        .options
        .iter()
        .find_map(|o| match o {
            TcpOpt::Sack(b) => Some(b.iter().map(|&(l, r)| (rel(l), rel(r))).collect()),
            _ => None,
        })
        .unwrap_or_default();
    // Then the hole.
    c.snd_nxt = base;
    c.send(ACK, &sent[..100]);
    c.snd_nxt = base.wrapping_add(300);
    c.pump_until("echo of 300 bytes", |c| {
        c.received.len() >= 300 && c.all_acked()
    });
    c.abort();
    Reorder {
        dup_ack_is_our_isn_plus_1: dup.ack == base,
        sack_blocks,
        echoed_in_order: c.received == sent,
        acked_everything: c.all_acked(),
    }
}

fn assert_reorder(r: &Reorder) {
    assert_eq!(
        r,
        &Reorder {
            dup_ack_is_our_isn_plus_1: true,
            sack_blocks: vec![(100, 300)],
            echoed_in_order: true,
            acked_everything: true,
        }
    );
}

#[test]
fn ipv6_data_beyond_a_hole_gets_a_sack_like_linux_s() {
    assert_reorder(&on_both("out of order (IPv6)", |d| {
        reorder_script(d, Fam::V6)
    }));
}

#[test]
fn ipv4_data_beyond_a_hole_gets_a_sack_like_linux_s() {
    assert_reorder(&on_both("out of order (IPv4)", |d| {
        reorder_script(d, Fam::V4)
    }));
}

// ---------------------------------------------------------------------------------------------
// SYN and FIN together

/// What the device sends to a SYN with FIN set too, at the listening port, within [`SILENCE`]
/// (then a control SYN proves it alive).
fn syn_fin_script(d: &Dut, fam: Fam) -> Vec<String> {
    d.introduce(fam);
    let mut syn_fin = Conn::new(d, fam, 40701, ECHO_PORT, 0x6300_0000);
    d.send(&syn_fin.frame(&syn_fin.segment(SYN | FIN, Vec::new(), &[])));
    let mut control = Conn::new(d, fam, 40702, ECHO_PORT, 0x6400_0000);
    let control_syn = control.segment(SYN, Vec::new(), &[]);
    let seen = d.silent(
        |p| syn_fin.ours(p).is_some(),
        &control.frame(&control_syn),
        |p| control.ours(p).is_some(),
    );
    for c in [&mut syn_fin, &mut control] {
        c.snd_nxt = c.snd_nxt.wrapping_add(1);
        c.abort();
    }
    seen.iter()
        .filter_map(|p| syn_fin.ours(p).map(|t| pk::flag_str(t.flags)))
        .collect()
}

#[test]
fn ipv6_syn_with_fin_is_discarded_like_linux() {
    let answers = on_both("SYN+FIN (IPv6)", |d| syn_fin_script(d, Fam::V6));
    assert!(answers.is_empty(), "{answers:?}");
}

#[test]
fn ipv4_syn_with_fin_is_discarded_like_linux() {
    let answers = on_both("SYN+FIN (IPv4)", |d| syn_fin_script(d, Fam::V4));
    assert!(answers.is_empty(), "{answers:?}");
}
