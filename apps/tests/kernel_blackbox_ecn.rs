//! Black-box ECN (RFC 3168) scripts, run against `serve echo` and against the Linux kernel
//! (its default, `net.ipv4.tcp_ecn=2`: accept, never ask) and compared (the devices, the peer
//! and what is compared: `common/blackbox.rs`; the peer's TCP end: `common/blackbox_conn.rs`);
//! IPv6 and IPv4 each. The peer plays an ECN sender and, for one segment, the router:
//! - an ECN-setup SYN (ECE and CWR, with the options a Linux client sends) gets an ECN-setup
//!   SYN-ACK: ECE without CWR (§6.1.1), Not-ECT;
//! - data sent ECT(0) is echoed without ECE; data marked CE (as a router marks it) is answered
//!   with ECE, and every segment of the device carries ECE (§6.1.3) until the peer's CWR,
//!   then none does; CWR and CE on the same segment leave ECE on (the CWR is taken first);
//! - the echoed data comes back ECT(0) and nothing else does (§6.1.1: no pure ACK is ECT);
//! - an ACK from the peer with ECE makes the device reduce its window and set CWR on its next
//!   new data (§6.1.2), and only there.
//!
//! Each step sends 100 bytes and reads until they are echoed and everything is acknowledged;
//! what the device sent in the meantime is summed up per step ([`Step`]), so that how many
//! segments each device sends (Linux may acknowledge before its echo server writes, the
//! engine answers with the echo) does not matter.

#[path = "common/blackbox.rs"]
mod blackbox;
#[path = "common/blackbox_conn.rs"]
mod blackbox_conn;
mod common;

use std::ops::Range;

use blackbox::{Dut, ECHO_PORT, Fam, on_both};
use blackbox_conn::{Conn, SynAck, full_syn_options};
use common::packets::{ACK, CE, CWR, ECE, ECT0, NOT_ECT, PSH, SYN};

/// What the device sent during one step, summed up.
#[derive(Debug, PartialEq, Eq)]
struct Step {
    /// Whether its segments carried ECE: `Some(true)` all, `Some(false)` none, `None` some.
    ece: Option<bool>,
    /// Whether a segment with data carried CWR, and one without data did.
    cwr_on_data: bool,
    cwr_without_data: bool,
    /// Whether every segment with data was ECT(0), and every one without Not-ECT.
    data_ect0: bool,
    rest_not_ect: bool,
    /// Whether its first segment acknowledged the step's data (an immediate answer).
    first_acks_it: bool,
}

impl Step {
    /// The summary of the device's segments `range` of `c`, answering data that ended at `end`.
    fn of(c: &Conn, range: Range<usize>, end: u32) -> Step {
        let segs = &c.segs[range.clone()];
        let ecn = &c.ecn[range];
        assert!(!segs.is_empty(), "the device answered");
        let ece: Vec<bool> = segs.iter().map(|t| t.has(ECE)).collect();
        let data = |t: &&common::packets::Tcp| !t.payload.is_empty();
        let with_ecn = || segs.iter().zip(ecn.iter().copied());
        Step {
            ece: match (ece.iter().all(|e| *e), ece.iter().any(|e| *e)) {
                (true, _) => Some(true),
                (_, false) => Some(false),
                _ => None,
            },
            cwr_on_data: segs.iter().filter(data).any(|t| t.has(CWR)),
            cwr_without_data: segs.iter().filter(|t| !data(t)).any(|t| t.has(CWR)),
            data_ect0: with_ecn().filter(|(t, _)| data(t)).all(|(_, e)| e == ECT0),
            rest_not_ect: with_ecn()
                .filter(|(t, _)| !data(t))
                .all(|(_, e)| e == NOT_ECT),
            first_acks_it: segs[0].ack == end,
        }
    }
}

/// The observation of [`ecn_script`].
#[derive(Debug, PartialEq, Eq)]
struct EcnEcho {
    synack: SynAck,
    /// The ECN field of the SYN-ACK's IP header.
    synack_ecn: u8,
    /// Data sent ECT(0), before any mark.
    unmarked: Step,
    /// Data marked CE.
    marked: Step,
    /// Data sent ECT(0) after the mark, before our CWR.
    after_mark: Step,
    /// Data with CWR.
    cwr: Step,
    /// Data sent ECT(0) after our CWR.
    after_cwr: Step,
    /// Data with CWR, marked CE.
    cwr_and_ce: Step,
    /// Data with CWR again.
    cwr_again: Step,
    /// Data whose echo we acknowledge with ECE.
    echo_acked_with_ece: Step,
    /// The next data: its echo must carry CWR.
    reaction: Step,
    /// And the next: no CWR any more.
    after_reaction: Step,
    echoed_in_order: bool,
    bad_checksums: usize,
}

/// Sends `data` with `flags` in a datagram marked `ecn`, reads until it is echoed and all is
/// acknowledged; returns the summary of what the device sent meanwhile.
fn step(c: &mut Conn, data: &[u8], flags: u8, ecn: u8) -> Step {
    let from = c.segs.len();
    let want = c.received.len() + data.len();
    c.send_marked(ACK | PSH | flags, data, ecn);
    let end = c.snd_nxt;
    c.pump_until(&format!("echo of {} bytes", data.len()), |c| {
        c.received.len() >= want && c.all_acked()
    });
    Step::of(c, from..c.segs.len(), end)
}

fn ecn_script(d: &Dut, fam: Fam) -> EcnEcho {
    d.introduce(fam);
    let mut c = Conn::new(d, fam, 40901, ECHO_PORT, 0x7100_0000);
    let t = c.connect_flags(ECE | CWR, full_syn_options(0));
    assert!(t.has(SYN | ACK), "SYN-ACK: {t}");
    let (synack, synack_ecn) = (SynAck::of(&c, &t), c.ecn[0]);
    let sent: Vec<u8> = (0..1000u32).map(|i| (i * 29 + i / 7) as u8).collect();
    let mut chunks = sent.chunks(100);
    let mut next = || chunks.next().expect("a chunk");
    let unmarked = step(&mut c, next(), 0, ECT0);
    let marked = step(&mut c, next(), 0, CE);
    let after_mark = step(&mut c, next(), 0, ECT0);
    let cwr = step(&mut c, next(), CWR, ECT0);
    let after_cwr = step(&mut c, next(), 0, ECT0);
    let cwr_and_ce = step(&mut c, next(), CWR, CE);
    let cwr_again = step(&mut c, next(), CWR, ECT0);
    c.ack_flags = ECE;
    let echo_acked_with_ece = step(&mut c, next(), 0, ECT0);
    c.ack_flags = 0;
    let reaction = step(&mut c, next(), 0, ECT0);
    let after_reaction = step(&mut c, next(), 0, ECT0);
    c.abort();
    EcnEcho {
        synack,
        synack_ecn,
        unmarked,
        marked,
        after_mark,
        cwr,
        after_cwr,
        cwr_and_ce,
        cwr_again,
        echo_acked_with_ece,
        reaction,
        after_reaction,
        echoed_in_order: c.received == sent,
        bad_checksums: c.bad_checksums,
    }
}

/// What RFC 3168 asks, and Linux does.
fn assert_rfc3168(e: &EcnEcho) {
    // §6.1.1: the ECN-setup SYN-ACK has ECE and not CWR; no SYN is ECT.
    assert_eq!(
        (e.synack.flags.as_str(), e.synack.ack_is_our_isn_plus_1),
        ("S.E", true)
    );
    assert_eq!(e.synack_ecn, NOT_ECT);
    let step = |ece, cwr_on_data| Step {
        ece: Some(ece),
        cwr_on_data,
        cwr_without_data: false,
        data_ect0: true,
        rest_not_ect: true,
        first_acks_it: true,
    };
    // §6.1.3: ECE from the CE mark until our CWR, on every segment; CE with CWR keeps it.
    assert_eq!(e.unmarked, step(false, false));
    assert_eq!(e.marked, step(true, false), "the answer to CE echoes it");
    assert_eq!(e.after_mark, step(true, false), "ECE until CWR");
    assert_eq!(e.cwr, step(false, false), "CWR ends the echo");
    assert_eq!(e.after_cwr, step(false, false));
    assert_eq!(e.cwr_and_ce, step(true, false), "CE after CWR");
    assert_eq!(e.cwr_again, step(false, false));
    // §6.1.2: our ECE reduces the device's window; its next new data says so with CWR, once.
    assert_eq!(e.echo_acked_with_ece, step(false, false));
    assert_eq!(e.reaction, step(false, true), "CWR on the first new data");
    assert_eq!(e.after_reaction, step(false, false));
    assert_eq!((e.echoed_in_order, e.bad_checksums), (true, 0));
}

#[test]
fn ipv6_ecn_set_up_and_a_ce_mark_echoed_as_linux_does() {
    assert_rfc3168(&on_both("ECN (IPv6)", |d| ecn_script(d, Fam::V6)));
}

#[test]
fn ipv4_ecn_set_up_and_a_ce_mark_echoed_as_linux_does() {
    assert_rfc3168(&on_both("ECN (IPv4)", |d| ecn_script(d, Fam::V4)));
}
