//! Black-box loss-recovery scripts, run against `serve echo` and against the Linux kernel and
//! compared (the devices: `common/blackbox.rs`; the peer's TCP end: `common/blackbox_conn.rs`;
//! its receiving side, which loses segments and sends SACK blocks: `common/blackbox_loss.rs`);
//! IPv6 and IPv4 each. The device is the sender: the peer sends data, the echo server sends it
//! back, and the peer "loses" some of the echo by not taking it in. Our MSS is 280, so that a
//! few KB come back in many segments of 268 bytes (280 less the timestamps option):
//! - two holes in one SACKed window: 20 segments echoed (10 in the initial window); the 3rd
//!   and the 7th are lost, every other one is acknowledged at once with SACK blocks (the
//!   cumulative ACK stays below the first hole). Both holes must come again, the second
//!   before our ACK of the first's resend: we hold that resend back, as if delayed on the way,
//!   until the second comes (at most 1 s), acknowledging everything else meanwhile, so the
//!   second hole is found from SACK blocks alone whether the first was resent before or after
//!   it was lost (the engine's RACK timer, on a 100 µs wheel, can resend the first after two
//!   SACKed segments). No SACKed byte again, both before an RTO could fire. Once with the same window
//!   field in every ACK, once with it growing by 3 in each, as a Linux receiver's grows;
//! - tail loss probe: an echo of 5 segments; the first three are acknowledged, the last two
//!   lost. The first resend must be a probe of the last segment (no new data is left, RFC
//!   8985 §7.3) before an RTO could fire (Linux probes after about 2·SRTT plus two jiffies);
//!   we SACK it, and the 4th must follow;
//! - fast retransmit without SACK (no SACK-permitted in our SYN; with and without
//!   timestamps): 20 segments echoed, the 4th lost, the first three acknowledged, the ones
//!   after the 4th taken without an ACK until the device goes quiet; then three duplicate
//!   ACKs 20 ms apart. The 4th must come again after the third duplicate ACK (nothing before
//!   it) and before an RTO could fire, and new data after each of the first two (limited
//!   transmit). With the window field growing by 3 in each of the three ACKs, they are window
//!   updates, not duplicate ACKs (RFC 5681 §2; Linux `tcp_ack` too: `FLAG_WIN_UPDATE`), and
//!   Linux waits for its RTO: so must the engine;
//! - a window past 64 KiB: 1 MiB streamed to the echo server (within the device's window, at
//!   most 192 KiB in flight) while the echo is read and acknowledged (our own window 64 KiB,
//!   SACK on); the largest window the device advertises (scaled) must exceed 65535 bytes.
//!
//! "Before an RTO could fire" is a category, not a time: a resend that comes less than
//! [`BEFORE_RTO`] (150 ms; the minimum RTO of both stacks is 200 ms) after our last ACK that
//! moved the acknowledgment forward (restarting the retransmission timer, RFC 6298 §5.3) is
//! not an RTO's. The times measured are printed with the timeline of data and ACKs, never
//! asserted. Linux uses Reno (its RFC 5681 congestion control, with PRR, SACK and RACK-TLP),
//! set in its namespace before each script, not the default (BBR here).
//!
//! Each test takes a file lock, so that two of them never run at once on this 2-CPU machine.

#[path = "common/blackbox.rs"]
mod blackbox;
#[path = "common/blackbox_conn.rs"]
mod blackbox_conn;
#[path = "common/blackbox_loss.rs"]
mod blackbox_loss;
mod common;

use std::fs::File;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use blackbox::{Dut, Fam, on_both};
use blackbox_conn::full_syn_options;
use blackbox_loss::{
    Arrival, RECOVERY, Range, Receiver, ms, overlaps, pattern, syn_options, within,
};
use common::packets::{ACK, Tcp};

/// Our MSS: small, so that an echo of a few KB comes in many segments.
const MSS: u16 = 280;
/// A resend less than this after our last ACK that moved the acknowledgment forward is not an
/// RTO's: both stacks' minimum RTO is 200 ms; the margin covers timer granularity (Linux's
/// wheel fires within a jiffy or so of the 200 ms; 206-209 ms measured here).
const BEFORE_RTO: Duration = Duration::from_millis(150);
/// How long we hold back the ACK of the first hole's resend, waiting for the second's.
const HOLD: Duration = Duration::from_secs(1);
/// How long without a segment from the device counts as quiet.
const QUIET: Duration = Duration::from_millis(30);
/// The time between our duplicate ACKs.
const GAP: Duration = Duration::from_millis(20);
/// The window field of our ACKs (scaled by 2^7: 128000 bytes).
const WINDOW: u16 = 1000;

/// A locked file, held while a test runs (unlocked when dropped): one device at a time on this
/// 2-CPU machine, whether the tests run as threads (cargo test) or processes (cargo nextest).
fn serial() -> File {
    let path = "/tmp/kernel_blackbox_loss.lock";
    let f = File::create(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    // SAFETY: flock on a descriptor we own; the lock goes with it when the file is closed.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(rc, 0, "flock {path}: {}", std::io::Error::last_os_error());
    f
}

/// The device's segment size: our MSS less the timestamps option if negotiated.
fn seg_size(ts: bool) -> usize {
    usize::from(MSS) - if ts { 12 } else { 0 }
}

fn range(start: usize, end: usize) -> Range {
    (start as u32, end as u32)
}

/// Makes the device know the peer, and makes Linux use Reno (RFC 5681, recovering with SACK,
/// RACK-TLP and PRR: the recovery the engine is to have), not the namespace's default (BBR).
fn start(d: &Dut, fam: Fam) {
    d.introduce(fam);
    d.linux_sysctl("net.ipv4.tcp_congestion_control=reno");
}

// ---------------------------------------------------------------------------------------------
// Two holes in one SACKed window

#[derive(Debug, PartialEq, Eq)]
struct TwoHoles {
    /// The segments lost (the 3rd and the 7th of the echo).
    holes: Vec<Range>,
    /// The ranges resent, in the order of their first resend. A range resent twice counts
    /// once: the first hole's resend is held back up to 1 s, and RACK may rightly find that
    /// retransmission lost and send it again (RFC 8985 §6.2); nothing SACKed may come again.
    resent: Vec<Range>,
    /// Bytes we had SACKed that came again.
    sacked_resent: Vec<Range>,
    /// The second hole came again before our first ACK of the first hole's resend.
    second_before_ack_of_first: bool,
    /// Both holes came again before an RTO could fire.
    both_before_rto: bool,
    echoed_in_order: bool,
}

/// The 3rd and 7th of 20 segments lost; our window field grows by `grow` in each ACK.
fn two_holes_script(d: &Dut, fam: Fam, grow: u16) -> TwoHoles {
    start(d, fam);
    let mut r = Receiver::connect(d, fam, 41101, 0x1100_0000, syn_options(MSS, true, true));
    (r.window, r.grow) = (WINDOW, grow);
    let seg = seg_size(true);
    let data = pattern(20 * seg, 1);
    r.send_data(&data, 5 * seg);
    let mut holes: Vec<Range> = Vec::new();
    // The first hole's resend, held back as if delayed on the way (until the second hole's
    // resend arrives, or HOLD): meanwhile we acknowledge everything else as it comes, so the
    // device must find and resend the second hole from SACK information alone, whether it
    // resent the first before or after the second was lost.
    let mut delayed: Option<(Tcp, Instant)> = None;
    let mut held_once = false;
    let deadline = Instant::now() + RECOVERY;
    while r.c.received.len() < data.len() {
        let wait = delayed
            .as_ref()
            .map_or(deadline, |(_, h)| (*h).min(deadline));
        let Some(g) = r.next(wait) else {
            if let Some((t, _)) = delayed.take() {
                r.accept(&t);
                r.ack();
                continue;
            }
            d.fail(&format!("echo: {} bytes received", r.c.received.len()));
        };
        let Some(a) = g.arrival.map(|i| r.arrivals[i].clone()) else {
            continue;
        };
        if matches!(a.ordinal, Some(3 | 7)) {
            holes.push(a.range);
            continue;
        }
        let resend_of =
            |k: usize| a.ordinal.is_none() && holes.get(k).is_some_and(|h| overlaps(*h, a.range));
        if !held_once && resend_of(0) {
            held_once = true;
            delayed = Some((g.t, Instant::now() + HOLD));
            continue;
        }
        r.accept(&g.t);
        if resend_of(1)
            && let Some((t, _)) = delayed.take()
        {
            r.accept(&t);
        }
        r.ack();
    }
    r.c.abort();
    two_holes_outcome(&r, holes, &data)
}

fn two_holes_outcome(r: &Receiver, holes: Vec<Range>, data: &[u8]) -> TwoHoles {
    let d = r.c.d;
    if holes.len() != 2 {
        d.fail(&format!("lost {holes:?}, not two segments"));
    }
    let lost_at = r
        .arrivals
        .iter()
        .find(|a| a.range == holes[0])
        .expect("lost")
        .at;
    // The third duplicate ACK; or the last one, when a RACK reordering timer shorter than the
    // gap between our ACKs resent the hole after two (the engine's timers tick every 100 µs,
    // Linux's every jiffy).
    let third_dup = r
        .acks
        .iter()
        .filter(|a| a.ack == holes[0].0 && a.at > lost_at)
        .take(3)
        .last()
        .unwrap_or_else(|| d.fail("no duplicate ACK"))
        .at;
    r.print_timeline(&format!("{:?}, two holes", d.kind), third_dup);
    let resends = [r.first_resend_of(holes[0]), r.first_resend_of(holes[1])];
    let before_rto = |a: Option<&Arrival>| {
        a.is_some_and(|a| {
            let last = r.last_advance_before(a.at).expect("an ACK before");
            eprintln!(
                "{:?}: {:?} resent {:.3} ms after our third duplicate ACK, {:.3} ms after our \
                 last ACK that moved forward",
                d.kind,
                a.range,
                ms(third_dup, a.at),
                ms(last.at, a.at)
            );
            within(last.at, a.at, BEFORE_RTO)
        })
    };
    let ack_of_first = r.acks.iter().find(|a| a.ack >= holes[0].1);
    TwoHoles {
        resent: r.resends().fold(Vec::new(), |mut v, a| {
            if !v.contains(&a.range) {
                v.push(a.range);
            }
            v
        }),
        sacked_resent: r.resends().flat_map(|a| a.sacked_again.clone()).collect(),
        second_before_ack_of_first: match (resends[1], ack_of_first) {
            (Some(s), Some(a)) => s.at < a.at,
            (s, _) => s.is_some(),
        },
        both_before_rto: before_rto(resends[0]) & before_rto(resends[1]),
        echoed_in_order: r.c.received == data,
        holes,
    }
}

fn assert_two_holes(o: &TwoHoles) {
    let seg = seg_size(true);
    let holes = vec![range(2 * seg, 3 * seg), range(6 * seg, 7 * seg)];
    assert_eq!(
        o,
        &TwoHoles {
            holes: holes.clone(),
            resent: holes,
            sacked_resent: Vec::new(),
            second_before_ack_of_first: true,
            both_before_rto: true,
            echoed_in_order: true,
        }
    );
}

#[test]
fn ipv6_two_holes_in_a_sacked_window_are_both_resent_before_an_rto_like_linux() {
    let _g = serial();
    assert_two_holes(&on_both("two holes (IPv6)", |d| {
        two_holes_script(d, Fam::V6, 0)
    }));
}

#[test]
fn ipv4_two_holes_in_a_sacked_window_are_both_resent_before_an_rto_like_linux() {
    let _g = serial();
    assert_two_holes(&on_both("two holes (IPv4)", |d| {
        two_holes_script(d, Fam::V4, 0)
    }));
}

#[test]
fn ipv6_two_holes_sacked_with_a_growing_window_are_both_resent_before_an_rto_like_linux() {
    let _g = serial();
    assert_two_holes(&on_both("two holes, growing window (IPv6)", |d| {
        two_holes_script(d, Fam::V6, 3)
    }));
}

#[test]
fn ipv4_two_holes_sacked_with_a_growing_window_are_both_resent_before_an_rto_like_linux() {
    let _g = serial();
    assert_two_holes(&on_both("two holes, growing window (IPv4)", |d| {
        two_holes_script(d, Fam::V4, 3)
    }));
}

// ---------------------------------------------------------------------------------------------
// Tail loss probe

#[derive(Debug, PartialEq, Eq)]
struct TailLoss {
    /// The segments lost: the last two of five.
    lost: Vec<Range>,
    /// The first resend: the probe.
    first_resend: Option<Range>,
    /// It came before an RTO could fire.
    probe_before_rto: bool,
    /// Every resend, in order (after the probe, which we SACK, the other lost segment).
    resent: Vec<Range>,
    echoed_in_order: bool,
}

fn tail_loss_script(d: &Dut, fam: Fam) -> TailLoss {
    start(d, fam);
    let mut r = Receiver::connect(d, fam, 41201, 0x1200_0000, syn_options(MSS, true, true));
    r.window = WINDOW;
    let seg = seg_size(true);
    let data = pattern(5 * seg, 2);
    r.send_data(&data, 5 * seg);
    let mut lost = Vec::new();
    let deadline = Instant::now() + RECOVERY;
    while lost.len() < 2 {
        let Some(g) = r.next(deadline) else {
            d.fail("no burst of 5 segments")
        };
        let Some(i) = g.arrival else { continue };
        match r.arrivals[i].ordinal {
            Some(4 | 5) => lost.push(r.arrivals[i].range),
            _ => r.take(&g.t),
        }
    }
    let last_ack = r.acks.last().expect("ACKs of the first three").at;
    let burst_end = r.arrivals.last().expect("the burst").at;
    r.finish("the echo after the probe", data.len());
    r.c.abort();
    r.print_timeline(&format!("{:?}, tail loss", d.kind), last_ack);
    let first = r.resends().next();
    if let Some(a) = first {
        eprintln!(
            "{:?}: first resend {:?} {:.3} ms after our last ACK, {:.3} ms after the burst's \
             last segment",
            d.kind,
            a.range,
            ms(last_ack, a.at),
            ms(burst_end, a.at)
        );
    }
    TailLoss {
        lost,
        first_resend: first.map(|a| a.range),
        probe_before_rto: first.is_some_and(|a| within(last_ack, a.at, BEFORE_RTO)),
        resent: r.resends().map(|a| a.range).collect(),
        echoed_in_order: r.c.received == data,
    }
}

fn assert_tail_loss(o: &TailLoss) {
    let seg = seg_size(true);
    let (fourth, fifth) = (range(3 * seg, 4 * seg), range(4 * seg, 5 * seg));
    assert_eq!(
        o,
        &TailLoss {
            lost: vec![fourth, fifth],
            first_resend: Some(fifth),
            probe_before_rto: true,
            resent: vec![fifth, fourth],
            echoed_in_order: true,
        }
    );
}

#[test]
fn ipv6_tail_loss_is_probed_before_an_rto_like_linux() {
    let _g = serial();
    assert_tail_loss(&on_both("tail loss (IPv6)", |d| {
        tail_loss_script(d, Fam::V6)
    }));
}

#[test]
fn ipv4_tail_loss_is_probed_before_an_rto_like_linux() {
    let _g = serial();
    assert_tail_loss(&on_both("tail loss (IPv4)", |d| {
        tail_loss_script(d, Fam::V4)
    }));
}

// ---------------------------------------------------------------------------------------------
// Fast retransmit without SACK

#[derive(Debug, PartialEq, Eq)]
struct NoSack {
    /// The segment lost: the 4th of the echo.
    hole: Range,
    /// Anything that came again before our third duplicate ACK.
    resent_before_third_dup_ack: Vec<Range>,
    /// Whether new data came after our first and after our second duplicate ACK (limited
    /// transmit, RFC 3042). How many varies on Linux (an ACK also releases what its TSO
    /// deferral held back), so only yes or no. `None` where the window grows: the "duplicate"
    /// ACKs are window updates then, and what follows the first varies on Linux.
    new_data_after_dup_acks: Option<[bool; 2]>,
    /// The first resend after our third duplicate ACK.
    resent_after_third: Option<Range>,
    /// It came before an RTO could fire.
    resent_before_rto: bool,
    echoed_in_order: bool,
}

/// Without SACK (and with timestamps if `ts`): the 4th segment of 20 lost, three duplicate
/// ACKs, the window field growing by `step` in each.
fn no_sack_script(d: &Dut, fam: Fam, ts: bool, step: u16) -> NoSack {
    start(d, fam);
    let mut r = Receiver::connect(d, fam, 41301, 0x1300_0000, syn_options(MSS, false, ts));
    r.window = WINDOW;
    let seg = seg_size(ts);
    let data = pattern(20 * seg, 3);
    r.send_data(&data, 5 * seg);
    let hole = lose_the_fourth(&mut r);
    let mut dup_acks = Vec::new();
    let mut new = [0; 2];
    for k in 0..3 {
        r.window = WINDOW + step * (k + 1);
        r.ack();
        dup_acks.push(r.acks.last().expect("sent").at);
        if let Some(n) = new.get_mut(usize::from(k)) {
            *n = take_for(&mut r, GAP);
        }
    }
    let deadline = Instant::now() + RECOVERY;
    while r.first_resend_of(hole).is_none() {
        let g = r.next(deadline);
        let g = g.unwrap_or_else(|| d.fail("the hole never came again"));
        if g.arrival.is_some() {
            r.accept(&g.t);
        }
    }
    r.ack();
    r.finish("the echo after the resend", data.len());
    r.c.abort();
    eprintln!(
        "{:?}: new segments after our first two duplicate ACKs: {new:?}",
        d.kind
    );
    let new_data_after_dup_acks = (step == 0).then_some([new[0] > 0, new[1] > 0]);
    no_sack_outcome(&r, hole, dup_acks[2], new_data_after_dup_acks, &data)
}

/// Takes and acknowledges the first three new segments, loses the 4th, takes the rest
/// without an ACK until the device goes quiet; returns the 4th's range.
fn lose_the_fourth(r: &mut Receiver) -> Range {
    let mut hole = None;
    r.until_quiet(QUIET, |r, g| {
        let Some(i) = g.arrival else { return };
        match r.arrivals[i].ordinal {
            Some(4) => hole = Some(r.arrivals[i].range),
            Some(1..=3) => r.take(&g.t),
            _ => r.accept(&g.t),
        }
    });
    hole.unwrap_or_else(|| r.c.d.fail("no 4th segment"))
}

/// Takes in (without acknowledging) what comes for `gap`; returns how many new segments.
fn take_for(r: &mut Receiver, gap: Duration) -> usize {
    let end = Instant::now() + gap;
    let mut new = 0;
    while let Some(g) = r.next(end) {
        if let Some(i) = g.arrival {
            new += usize::from(r.arrivals[i].ordinal.is_some());
            r.accept(&g.t);
        }
    }
    new
}

fn no_sack_outcome(
    r: &Receiver,
    hole: Range,
    third: Instant,
    new_data_after_dup_acks: Option<[bool; 2]>,
    data: &[u8],
) -> NoSack {
    let kind = r.c.d.kind;
    r.print_timeline(&format!("{kind:?}, no SACK"), third);
    let after = r.resends().find(|a| a.at >= third);
    let before_rto = after.is_some_and(|a| {
        let last = r.last_advance_before(a.at).expect("an ACK before");
        eprintln!(
            "{kind:?}: {:?} resent {:.3} ms after our third duplicate ACK, {:.3} ms after our \
             last ACK that moved forward",
            a.range,
            ms(third, a.at),
            ms(last.at, a.at)
        );
        within(last.at, a.at, BEFORE_RTO)
    });
    let before_third = r.resends().filter(|a| a.at < third);
    NoSack {
        hole,
        resent_before_third_dup_ack: before_third.map(|a| a.range).collect(),
        new_data_after_dup_acks,
        resent_after_third: after.map(|a| a.range),
        resent_before_rto: before_rto,
        echoed_in_order: r.c.received == data,
    }
}

/// What a resend after three duplicate ACKs must be: fast retransmit (RFC 5681 §3.2), after
/// limited transmit (RFC 3042); or, where the window grew, an RTO's.
fn assert_no_sack(o: &NoSack, ts: bool, growing: bool) {
    let seg = seg_size(ts);
    let hole = range(3 * seg, 4 * seg);
    assert_eq!(
        o,
        &NoSack {
            hole,
            resent_before_third_dup_ack: Vec::new(),
            new_data_after_dup_acks: (!growing).then_some([true, true]),
            resent_after_third: Some(hole),
            resent_before_rto: !growing,
            echoed_in_order: true,
        }
    );
}

#[test]
fn ipv6_fast_retransmit_without_sack_like_linux() {
    let _g = serial();
    let o = on_both("no SACK (IPv6)", |d| no_sack_script(d, Fam::V6, true, 0));
    assert_no_sack(&o, true, false);
}

#[test]
fn ipv4_fast_retransmit_without_sack_like_linux() {
    let _g = serial();
    let o = on_both("no SACK (IPv4)", |d| no_sack_script(d, Fam::V4, true, 0));
    assert_no_sack(&o, true, false);
}

#[test]
fn ipv6_fast_retransmit_without_sack_or_timestamps_like_linux() {
    let _g = serial();
    let o = on_both("no SACK, no timestamps (IPv6)", |d| {
        no_sack_script(d, Fam::V6, false, 0)
    });
    assert_no_sack(&o, false, false);
}

#[test]
fn ipv4_fast_retransmit_without_sack_or_timestamps_like_linux() {
    let _g = serial();
    let o = on_both("no SACK, no timestamps (IPv4)", |d| {
        no_sack_script(d, Fam::V4, false, 0)
    });
    assert_no_sack(&o, false, false);
}

#[test]
fn ipv6_without_sack_acks_with_a_growing_window_are_no_duplicates_like_linux() {
    let _g = serial();
    let o = on_both("no SACK, growing window (IPv6)", |d| {
        no_sack_script(d, Fam::V6, true, 3)
    });
    assert_no_sack(&o, true, true);
}

#[test]
fn ipv4_without_sack_acks_with_a_growing_window_are_no_duplicates_like_linux() {
    let _g = serial();
    let o = on_both("no SACK, growing window (IPv4)", |d| {
        no_sack_script(d, Fam::V4, true, 3)
    });
    assert_no_sack(&o, true, true);
}

// ---------------------------------------------------------------------------------------------
// A window past 64 KiB

#[derive(Debug, PartialEq, Eq)]
struct BigWindow {
    /// The largest window the device advertised (scaled) exceeds 65535 bytes.
    window_past_64k: bool,
    echoed_in_order: bool,
}

/// At most this much of our data in flight.
const STREAM_CAP: usize = 192 * 1024;
/// Our window field while streaming: 64 KiB (scaled by 2^7), so that the device's bursts fit
/// in the capture socket's buffer (about 90 frames) on the engine's side.
const STREAM_WINDOW: u16 = 512;

fn big_window_script(d: &Dut, fam: Fam) -> BigWindow {
    start(d, fam);
    let mut r = Receiver::connect(d, fam, 41401, 0x1400_0000, full_syn_options(0));
    r.window = STREAM_WINDOW;
    let synack = r.c.segs[0].clone();
    let wscale = synack.window_scale();
    let wscale = wscale.unwrap_or_else(|| d.fail("no window scale"));
    let seg = usize::from(synack.mss().unwrap_or(536)) - 12;
    let data = pattern(1 << 20, 4);
    let mut s = Stream {
        base: r.c.snd_nxt,
        una: 0,
        sent: 0,
        wnd: usize::from(synack.window),
        max_wnd: 0,
        progress: Instant::now(),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while r.c.received.len() < data.len() {
        while s.sent < data.len() && s.sent - s.una + seg <= s.wnd.min(STREAM_CAP) {
            let n = seg.min(data.len() - s.sent);
            r.c.snd_nxt = s.seq(s.sent);
            r.send_data(&data[s.sent..s.sent + n], n);
            s.sent += n;
        }
        if let Some(g) = r.next(Instant::now() + Duration::from_millis(20)) {
            s.ack(&g.t, wscale);
            r.c.snd_nxt = s.seq(s.sent);
            if g.arrival.is_some() {
                r.take(&g.t);
            }
        }
        s.go_back_if_stuck(d);
        if Instant::now() > deadline {
            d.fail(&format!("1 MiB echo: {} bytes back", r.c.received.len()));
        }
    }
    r.c.abort();
    eprintln!(
        "{:?}: largest window advertised {} bytes (shift {wscale})",
        d.kind, s.max_wnd
    );
    BigWindow {
        window_past_64k: s.max_wnd > 65535,
        echoed_in_order: r.c.received == data,
    }
}

/// Our sending side of the stream: offsets relative to our ISN + 1 (`base`).
struct Stream {
    base: u32,
    una: usize,
    sent: usize,
    /// The device's window (scaled) and the largest it advertised.
    wnd: usize,
    max_wnd: usize,
    progress: Instant,
}

impl Stream {
    fn seq(&self, offset: usize) -> u32 {
        self.base.wrapping_add(offset as u32)
    }

    /// Takes the acknowledgment and window of the device's segment `t`.
    fn ack(&mut self, t: &Tcp, wscale: u8) {
        if !t.has(ACK) {
            return;
        }
        let acked = t.ack.wrapping_sub(self.base) as usize;
        if acked > self.una && acked <= 1 << 20 {
            self.una = acked;
            self.sent = self.sent.max(acked);
            self.progress = Instant::now();
        }
        self.wnd = usize::from(t.window) << wscale;
        self.max_wnd = self.max_wnd.max(self.wnd);
    }

    /// Nothing is lost on a tap as a rule; should something be, send again from the first
    /// unacknowledged byte after 300 ms without progress.
    fn go_back_if_stuck(&mut self, d: &Dut) {
        if self.una < self.sent && self.progress.elapsed() > Duration::from_millis(300) {
            eprintln!(
                "{:?}: sending again from {} (no progress)",
                d.kind, self.una
            );
            self.sent = self.una;
            self.progress = Instant::now();
        }
    }
}

fn assert_big_window(o: &BigWindow) {
    assert_eq!(
        o,
        &BigWindow {
            window_past_64k: true,
            echoed_in_order: true,
        }
    );
}

#[test]
fn ipv6_receive_window_grows_past_64k_like_linux() {
    let _g = serial();
    assert_big_window(&on_both("window past 64 KiB (IPv6)", |d| {
        big_window_script(d, Fam::V6)
    }));
}

#[test]
fn ipv4_receive_window_grows_past_64k_like_linux() {
    let _g = serial();
    assert_big_window(&on_both("window past 64 KiB (IPv4)", |d| {
        big_window_script(d, Fam::V4)
    }));
}
