//! The transmission control block: one connection's state, as plain data (RFC 9293 §3.3.1).
//!
//! Names follow the RFC: `snd.una`, `snd.nxt`, `snd.wnd`, `snd.wl1`, `snd.wl2`, `snd.iss`,
//! `rcv.nxt`, `rcv.irs`; windows are kept scaled (in bytes). The send queue holds everything
//! from `snd.una` (the SYN excepted), the receive queue everything readable plus
//! out-of-order data. Nothing here does I/O, and nothing names the layer below (no addresses
//! but the 4-tuple, no header bytes); the functions in `input`, `output` and `timeout` drive
//! it, and `ctx::set_state` is the only writer of `state`.
//!
//! Invariants:
//! - `snd.una <= snd.nxt <= sq.write_seq()` (sequence-space order).
//! - `rcv.adv` (the right edge last advertised) never moves left (RFC 9293 §3.8.6.2.2, no
//!   window shrinking).
//! - The flow table maps `tuple` to this TCB's slab index while it is not `Closed`.

use std::time::Duration;

use super::congestion::{Congestion, CongestionControl};
use super::events::Queued;
use super::flow::FourTuple;
use super::memory::{GUARANTEE_MBUFS, GUARANTEE_SEGMENTS};
use super::recovery::Recovery;
use super::recv_queue::RecvQueue;
use super::rtt::RttEstimator;
use super::segment::FlowId;
use super::send_queue::SendQueue;
use super::slab::Handle;
use super::state::State;
use super::timer::TimerTable;
use super::types::{ConnOptions, ListenerId, TcpError};
use crate::time::Instant;
use crate::wire::SeqNum;

/// Send sequence variables (RFC 9293 §3.3.1), windows scaled to bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Snd {
    pub una: SeqNum,
    pub nxt: SeqNum,
    /// The peer's window in bytes (already shifted by `wscale`).
    pub wnd: u32,
    pub wl1: SeqNum,
    pub wl2: SeqNum,
    pub iss: SeqNum,
    /// Largest window the peer ever offered (RFC 9293 §3.8.6.2.1 sender SWS avoidance).
    pub max_wnd: u32,
    /// Shift applied to the peer's window field (RFC 7323 §2.3).
    pub wscale: u8,
    /// Payload bytes per segment (peer's MSS, our MTU, minus timestamp option space).
    pub mss: u16,
}

/// Receive sequence variables.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rcv {
    pub nxt: SeqNum,
    pub irs: SeqNum,
    /// Right edge of the window last advertised (`rcv.nxt + rcv.wnd` at that time).
    pub adv: SeqNum,
    /// Our window-scale shift (RFC 7323 §2.2).
    pub wscale: u8,
    /// The MSS we advertised.
    pub mss: u16,
    /// `rcv.nxt` carried by the last ACK we sent (RFC 7323 §4.3 Last.ACK.sent).
    pub last_ack_sent: SeqNum,
    /// Sequence number of a FIN received ahead of missing data.
    pub fin_at: Option<SeqNum>,
    /// Full-sized segments received since the last ACK we sent.
    pub unacked_segs: u8,
}

/// Timestamp option state (RFC 7323 §3-§5).
#[derive(Clone, Copy, Debug, Default)]
pub struct Ts {
    /// Both sides sent the option on the SYN.
    pub enabled: bool,
    /// TS.Recent: the peer's timestamp to echo.
    pub recent: u32,
    /// When TS.Recent was last updated (PAWS validity, RFC 7323 §5.5).
    pub recent_at: Instant,
    /// Per-connection offset added to our clock (RFC 7323 §5.4).
    pub offset: u32,
}

/// Explicit Congestion Notification state (RFC 3168 §6.1; Linux's `ecn_flags`), driven by
/// `tcp::ecn`.
#[derive(Clone, Copy, Debug, Default)]
pub struct EcnState {
    /// Our SYN asked for ECN (ECE and CWR set, §6.1.1).
    pub asked: bool,
    /// Both ends agreed: new data goes out ECT(0), ECE and CWR carry their §6.1 meanings.
    pub ok: bool,
    /// A CE mark arrived: every segment but a SYN carries ECE until the peer's CWR (§6.1.3;
    /// Linux `TCP_ECN_DEMAND_CWR`).
    pub echo: bool,
    /// The window was reduced: the next new data segment carries CWR (§6.1.2; Linux
    /// `TCP_ECN_QUEUE_CWR`).
    pub send_cwr: bool,
    /// `snd.nxt` at the last ECE reduction: none more until SND.UNA passes it (§6.1.2, once per
    /// window of data). `None` when no reduction is under way.
    pub reduce_end: Option<SeqNum>,
    /// `Tcb::recover` of the last loss episode whose reduction a CWR announced (§6.1.2: CWR
    /// follows every reduction, loss ones included).
    pub announced_recover: SeqNum,
}

/// Loss-recovery state (RFC 5681 §3.2, RFC 6582, Linux's `icsk_ca_state` names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaState {
    /// No loss suspected.
    Open,
    /// Fast recovery after a loss was detected (RACK, or three duplicate ACKs), until
    /// `Tcb::recover` is acknowledged.
    Recovery,
    /// After a retransmission timeout, until `Tcb::recover` is acknowledged.
    Loss,
}

/// How the congestion window was used, as Linux's `tcp_cwnd_validate` tracks it
/// (`is_cwnd_limited`, `max_packets_out`, `cwnd_usage_seq`): set when data goes out and held
/// for a window of data, so that growth (RFC 7661 §4.1) is judged on what the sender did,
/// not on the flight at one ACK. ACKs are processed a burst at a time and data goes out at
/// the end of the poll: from the second ACK of a burst on, the flight alone would make a
/// sender that fills its window look application-limited.
#[derive(Clone, Copy, Debug, Default)]
pub struct CwndUse {
    /// The window held back data that was ready to go, in this window of data.
    pub limited: bool,
    /// The largest flight in this window of data, bytes.
    pub max_flight: u32,
    /// `snd.nxt` when the window of data began: once `snd.una` passes it, a new one begins.
    pub until: SeqNum,
}

impl CwndUse {
    /// After a transmission round: `limited` says the window held data back. As Linux, a new
    /// window of data begins when `snd.una` passed `until`, or when the sender becomes
    /// limited, or when an unlimited sender's flight grows.
    pub fn update(&mut self, limited: bool, flight: u32, snd_una: SeqNum, snd_nxt: SeqNum) {
        if !snd_una.lt(self.until) || limited || (!self.limited && flight > self.max_flight) {
            self.limited = limited;
            self.max_flight = flight;
            self.until = snd_nxt;
        }
    }

    /// The flight to judge growth by (the `in_flight_before` of `congestion::AckSample`):
    /// the window itself if it held data back, else the largest flight of the window of data,
    /// and never less than the flight before this ACK. `prior_una` is `snd.una` before the
    /// ACK: a record whose window of data was already acknowledged then (nothing was sent
    /// since) is stale, and only the flight counts.
    pub fn flight_for_growth(&self, cwnd: u32, flight_before: u32, prior_una: SeqNum) -> u32 {
        if !prior_una.lt(self.until) {
            return flight_before;
        }
        let used = if self.limited { cwnd } else { self.max_flight };
        used.max(flight_before)
    }
}

/// Bit flags of a TCB.
pub mod flag {
    /// Send an ACK at the end of this poll (coalesced per burst).
    pub const ACK_NOW: u16 = 1 << 0;
    /// An ACK is owed, waiting for the delayed-ACK timer.
    pub const ACK_DELAYED: u16 = 1 << 1;
    /// The application holds a handle (after connect or accept).
    pub const APP_OWNED: u16 = 1 << 2;
    /// The application closed its handle; the TCB finishes the protocol alone.
    pub const ORPHAN: u16 = 1 << 3;
    /// The application shut down writing (our FIN is queued).
    pub const WR_SHUTDOWN: u16 = 1 << 4;
    /// A Readable event is outstanding (edge trigger).
    pub const READ_NOTIFIED: u16 = 1 << 5;
    /// A send came up short: post Writable when room frees.
    pub const WANT_WRITE: u16 = 1 << 6;
    /// Queued on the stack's list of connections needing output.
    pub const PENDING: u16 = 1 << 7;
    /// Opened passively (by a listener).
    pub const PASSIVE: u16 = 1 << 8;
    /// SACK permitted by both sides (RFC 2018 §2).
    pub const SACK_OK: u16 = 1 << 9;
    /// The Closed event was posted.
    pub const CLOSED_NOTIFIED: u16 = 1 << 10;
    /// Sent a window-update-worthy read since the last ACK.
    pub const WINDOW_UPDATE: u16 = 1 << 11;
    /// On the stack's list of connections holding out-of-order data (`memory`).
    pub const OOO_LISTED: u16 = 1 << 12;
    /// SYN-SENT with the SYN not sent yet: the transmit queue was stopped at `connect`; the
    /// SYN goes (and its timer starts) when the pending connection is flushed.
    pub const SYN_DEFERRED: u16 = 1 << 13;
    /// On the list of connections waiting for room in the layer below (`ctx::throttle`).
    pub const THROTTLED: u16 = 1 << 14;
}

/// One connection.
pub struct Tcb {
    pub handle: Handle,
    pub state: State,
    pub tuple: FourTuple,
    pub snd: Snd,
    pub rcv: Rcv,
    pub ts: Ts,
    pub ecn: EcnState,
    pub flags: u16,
    pub opts: ConnOptions,
    pub sq: SendQueue,
    pub rq: RecvQueue,
    pub rtt: RttEstimator,
    pub cc: Congestion,
    pub ca: CaState,
    pub dupacks: u16,
    /// RACK, PRR, the SACK cache, undo and tail-loss-probe state (`tcp::recovery`).
    pub rec: Recovery,
    /// How the congestion window was used over the last window of data (RFC 7661).
    pub cwnd_use: CwndUse,
    /// `snd.nxt` when the last recovery or loss episode began (RFC 6582 `recover`): duplicate
    /// ACKs below it do not start another fast retransmit.
    pub recover: SeqNum,
    pub timers: TimerTable,
    /// Consecutive retransmission timeouts (or SYN/SYN-ACK retransmissions).
    pub retries: u8,
    /// Unanswered keepalive or zero-window probes.
    pub probes: u8,
    /// Segments to acknowledge at once before delayed ACKs apply (quickack mode).
    pub quickack: u8,
    /// A duplicate range to report as the first SACK block of the next ACK (RFC 2883); an
    /// empty range when there is none (8 bytes, not an `Option`'s 12: see `dsack`,
    /// `set_dsack`, `take_dsack`).
    pub(super) dsack: (SeqNum, SeqNum),
    /// The listener this passive open belongs to, until accepted.
    pub listener: Option<ListenerId>,
    /// Kinds of event this connection has in the event queue.
    pub queued: Queued,
    pub error: Option<TcpError>,
    /// Last segment received (keepalive idle time).
    pub last_rx: Instant,
    /// Last data segment sent (RFC 5681 §4.1 idle restart).
    pub last_tx: Instant,
    /// Entered TIME_WAIT (for TIME_WAIT reuse).
    pub tw_since: Instant,
    /// Segments retransmitted over the connection's life (saturating; `ConnInfo` widens it).
    pub retransmits: u32,
    /// When we last answered an unacceptable segment (RFC 5961 §7 rate limit);
    /// `Instant::FAR_FUTURE` before the first (8 bytes, not an `Option`'s 16).
    pub last_oow_ack: Instant,
}

impl Tcb {
    pub fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }

    pub fn set(&mut self, f: u16) {
        self.flags |= f;
    }

    pub fn clear(&mut self, f: u16) {
        self.flags &= !f;
    }

    /// The duplicate range to report, if any (RFC 2883).
    pub fn dsack(&self) -> Option<(SeqNum, SeqNum)> {
        let (start, end) = self.dsack;
        (start != end).then_some(self.dsack)
    }

    /// Sets (or with `None` clears) the duplicate range to report.
    pub fn set_dsack(&mut self, d: Option<(SeqNum, SeqNum)>) {
        self.dsack = d.unwrap_or_default();
    }

    /// The duplicate range to report, cleared.
    pub fn take_dsack(&mut self) -> Option<(SeqNum, SeqNum)> {
        let d = self.dsack();
        self.dsack = Default::default();
        d
    }

    pub fn sack_ok(&self) -> bool {
        self.has(flag::SACK_OK)
    }

    /// The connection's identity for the layer below's per-connection caches.
    #[inline]
    pub fn flow_id(&self) -> FlowId {
        FlowId {
            index: self.handle.index,
            generation: self.handle.generation,
        }
    }

    /// Bytes of receive buffer in use, counting mbufs at 256 B at least each so that a sender
    /// of tiny segments cannot pin the pool (Linux accounts skb truesize the same way).
    pub fn rcv_used(&self) -> u32 {
        let bytes = self.rq.bytes() + self.rq.ooo_bytes();
        bytes.max(self.rq.mbufs() * 256) as u32
    }

    /// Mbufs the connection holds in both queues (an echo or a proxy moves received mbufs
    /// from the one to the other: the guarantee of `memory` counts both).
    pub fn held_mbufs(&self) -> usize {
        self.rq.mbufs() + self.sq.mbufs()
    }

    /// The window we would offer now, before SWS avoidance: free receive buffer, capped by
    /// what the window field can express.
    pub fn rcv_free(&self) -> u32 {
        let max = u32::from(u16::MAX) << self.rcv.wscale;
        self.opts.rcvbuf.saturating_sub(self.rcv_used()).min(max)
    }

    /// Chooses the window to advertise and returns the raw 16-bit field (RFC 9293 §3.8.6.2.2
    /// receiver SWS avoidance; RFC 7323 §2.3 scaling). The right edge only moves right, and
    /// only by at least min(rcvbuf/2, MSS) at a time.
    ///
    /// Under memory pressure (`pressure`), the edge moves only for a connection holding less
    /// than its guarantee (`memory::GUARANTEE_MBUFS`), by a few segments
    /// (`memory::GUARANTEE_SEGMENTS`): peers holding data get no new room while the stack's
    /// mbuf pool is low, and a new connection still gets a usable window (never zero on its
    /// SYN-ACK).
    pub fn select_window(&mut self, syn: bool, pressure: bool) -> u16 {
        let free = if !pressure {
            self.rcv_free()
        } else if self.held_mbufs() < GUARANTEE_MBUFS {
            let room = GUARANTEE_SEGMENTS * u32::from(self.rcv.mss);
            self.rcv_free().min(room)
        } else {
            0
        };
        let cur = self.rcv.adv.diff(self.rcv.nxt).max(0) as u32;
        let step = (self.opts.rcvbuf / 2).min(u32::from(self.rcv.mss)).max(1);
        if free > cur && free - cur >= step {
            self.rcv.adv = self.rcv.nxt + free;
        }
        let wnd = self.rcv.adv.diff(self.rcv.nxt).max(0) as u32;
        if syn {
            // RFC 7323 §2.2: the window field of a SYN is never scaled.
            return wnd.min(u32::from(u16::MAX)) as u16;
        }
        let shift = u32::from(self.rcv.wscale);
        // Round up so the edge the peer computes is not left of `adv` (no shrinking).
        let field = wnd.div_ceil(1 << shift).min(u32::from(u16::MAX));
        self.rcv.adv = self.rcv.nxt + (field << shift);
        field as u16
    }

    /// Bytes in flight (Linux `tcp_packets_in_flight`, in bytes): outstanding minus SACKed
    /// and lost, plus retransmitted.
    pub fn in_flight(&self) -> u32 {
        self.sq.in_flight(self.snd.nxt)
    }

    /// The timestamp value to send now: a 1 ms clock plus the connection's offset.
    pub fn tsval(&self, now: Instant) -> u32 {
        (now.as_millis() as u32).wrapping_add(self.ts.offset)
    }

    /// RTT from an echoed timestamp, if it is plausible.
    pub fn ts_rtt(&self, now: Instant, tsecr: u32) -> Option<Duration> {
        let d = self.tsval(now).wrapping_sub(tsecr);
        (tsecr != 0 && d < 1 << 31).then(|| Duration::from_millis(u64::from(d)))
    }

    /// The current congestion window in bytes.
    pub fn cwnd(&self) -> u32 {
        self.cc.cwnd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_that_held_data_back_counts_as_full_for_every_ack_of_its_round() {
        let mut u = CwndUse::default();
        // 10 segments out and more ready: limited, until snd.nxt = 10,000 is acknowledged.
        u.update(true, 10_000, SeqNum(0), SeqNum(10_000));
        // The third ACK of a burst sees only 7,000 in flight; the window was full all the same.
        assert_eq!(u.flight_for_growth(10_000, 7_000, SeqNum(3_000)), 10_000);
        // Once the window of data is acknowledged, the record is stale.
        assert_eq!(u.flight_for_growth(10_000, 2_000, SeqNum(10_000)), 2_000);
    }

    #[test]
    fn an_application_limited_window_counts_its_largest_flight() {
        let mut u = CwndUse::default();
        u.update(false, 3_000, SeqNum(0), SeqNum(3_000));
        // A larger flight of an unlimited sender starts a new record at once.
        u.update(false, 4_000, SeqNum(0), SeqNum(4_000));
        assert_eq!(u.flight_for_growth(10_000, 1_000, SeqNum(500)), 4_000);
        // A smaller one within the window of data does not.
        u.update(false, 2_000, SeqNum(1_000), SeqNum(4_500));
        assert_eq!(u.flight_for_growth(10_000, 1_000, SeqNum(1_000)), 4_000);
    }
}
