//! Opening handshake pieces shared by active and passive opens: creating a TCB, the options a
//! SYN offers, negotiating them from the peer's SYN (RFC 9293 §3.7.1 MSS; RFC 7323 window
//! scale and timestamps; RFC 2018 SACK-permitted), and sending SYN / SYN-ACK.

use super::congestion::Congestion;
use super::flow::FourTuple;
use super::layer::{Out, Shared, set_timer};
use super::output;
use super::recv_queue::RecvQueue;
use super::rtt::RttEstimator;
use super::send_queue::SendQueue;
use super::slab::Slab;
use super::tcb::{CaState, Rcv, Snd, State, Tcb, Ts, flag};
use super::timer::{TimerKind, TimerTable};
use super::types::{ConnOptions, TcpError};
use crate::time::Instant;
use crate::wire::{SackBlocks, TcpFlags, TcpRepr};

/// MSS assumed when the peer's SYN carries none (RFC 9293 §3.7.1).
const DEFAULT_MSS: u16 = 536;

/// Bytes of the timestamp option in every segment once negotiated (10 + 2 NOPs).
pub const TS_OPTION_LEN: u16 = 12;

/// The MSS we advertise: the MTU minus IPv4 and TCP headers, clamped by the configuration.
pub fn our_mss(sh: &Shared, out: &Out) -> u16 {
    let mss = out.caps.mtu.saturating_sub(40).max(64);
    sh.cfg.mss_clamp.map_or(mss, |c| mss.min(c))
}

/// The smallest window-scale shift that lets the window field express `rcvbuf`, but at least
/// 7 (Linux's usual value, leaving room to grow the buffer later), at most 14 (RFC 7323 §2.3).
fn wscale_for(rcvbuf: u32) -> u8 {
    let mut s = 0u8;
    while s < 14 && (rcvbuf >> s) > u32::from(u16::MAX) {
        s += 1;
    }
    s.max(7)
}

/// Allocates a TCB for `tuple` in `state`, registers it in the flow table, and returns its
/// slab index.
pub fn create(
    conns: &mut Slab<Tcb>,
    sh: &mut Shared,
    out: &Out,
    tuple: FourTuple,
    state: State,
    opts: ConnOptions,
) -> Result<u32, TcpError> {
    let iss = sh.isn.isn(
        out.now,
        (tuple.local_ip, tuple.local_port),
        (tuple.remote_ip, tuple.remote_port),
    );
    let mss = our_mss(sh, out);
    let ts_offset = sh.isn.ts_offset(
        (tuple.local_ip, tuple.local_port),
        (tuple.remote_ip, tuple.remote_port),
    );
    let storage = sh.spares.take();
    let make = |handle| Tcb {
        handle,
        state,
        tuple,
        snd: Snd {
            una: iss,
            nxt: iss,
            iss,
            mss: mss.min(DEFAULT_MSS),
            ..Snd::default()
        },
        rcv: Rcv {
            mss,
            wscale: if sh.cfg.window_scaling {
                wscale_for(opts.rcvbuf)
            } else {
                0
            },
            ..Rcv::default()
        },
        ts: Ts {
            offset: ts_offset,
            ..Ts::default()
        },
        flags: 0,
        opts,
        sq: SendQueue::with_storage(iss + 1, storage.send),
        rq: RecvQueue::with_storage(storage.recv),
        rtt: RttEstimator::new(sh.cfg.rtt),
        cc: Congestion::new(sh.cfg.congestion, u32::from(mss)),
        ca: CaState::Open,
        dupacks: 0,
        timers: TimerTable::default(),
        retries: 0,
        probes: 0,
        rtx_skips: 0,
        quickack: sh.cfg.quickack_segments,
        dsack: None,
        listener: None,
        error: None,
        last_rx: out.now,
        last_tx: out.now,
        tw_since: Instant::ZERO,
        retransmits: 0,
        last_oow_ack: None,
        hdr: Default::default(),
        recover: iss,
    };
    let h = conns.insert_with(make).ok_or(TcpError::TableFull)?;
    sh.flows.insert(tuple, h.index);
    Ok(h.index)
}

/// Takes the options of the peer's SYN (or SYN-ACK) into `tcb`: MSS, window scale (both sides
/// must offer it, RFC 7323 §2.2), timestamps (RFC 7323 §3.2), SACK-permitted (RFC 2018 §2).
/// For an active open, `we_offered` says what our SYN carried.
pub fn negotiate(tcb: &mut Tcb, sh: &Shared, r: &TcpRepr, now: Instant) {
    let peer_mss = r.mss.unwrap_or(DEFAULT_MSS).max(64);
    if let (true, Some(shift)) = (sh.cfg.window_scaling, r.window_scale) {
        tcb.snd.wscale = shift.min(14);
    } else {
        tcb.snd.wscale = 0;
        tcb.rcv.wscale = 0;
    }
    tcb.ts.enabled = sh.cfg.timestamps && r.timestamps.is_some();
    if let Some((tsval, _)) = r.timestamps.filter(|_| tcb.ts.enabled) {
        tcb.ts.recent = tsval;
        tcb.ts.recent_at = now;
    }
    if sh.cfg.sack && r.sack_permitted {
        tcb.set(flag::SACK_OK);
    }
    let opt = if tcb.ts.enabled { TS_OPTION_LEN } else { 0 };
    tcb.snd.mss = peer_mss.min(tcb.rcv.mss).saturating_sub(opt).max(32);
    tcb.cc = Congestion::new(sh.cfg.congestion, u32::from(tcb.snd.mss));
    // RFC 7323 §2.2: the window field of a SYN is never scaled.
    tcb.snd.wnd = u32::from(r.window);
    tcb.snd.max_wnd = tcb.snd.wnd;
}

/// The SYN (active open) or SYN-ACK (passive or simultaneous open) for `tcb`.
pub fn syn_repr(tcb: &mut Tcb, sh: &Shared, now: Instant, ack: bool) -> TcpRepr {
    let passive_reply = ack;
    // On a SYN-ACK we echo only what the peer offered.
    let ws = sh.cfg.window_scaling && (!passive_reply || tcb.rcv.wscale > 0 || tcb.snd.wscale > 0);
    let ts = sh.cfg.timestamps && (!passive_reply || tcb.ts.enabled);
    let sack = sh.cfg.sack && (!passive_reply || tcb.sack_ok());
    let window = tcb.select_window(true, sh.mem.under_pressure());
    TcpRepr {
        src_port: tcb.tuple.local_port,
        dst_port: tcb.tuple.remote_port,
        seq: tcb.snd.iss,
        ack: if ack { tcb.rcv.nxt } else { Default::default() },
        flags: if ack {
            TcpFlags::SYN | TcpFlags::ACK
        } else {
            TcpFlags::SYN
        },
        window,
        urgent: 0,
        mss: Some(tcb.rcv.mss),
        window_scale: ws.then_some(tcb.rcv.wscale),
        sack_permitted: sack,
        sack: SackBlocks::default(),
        timestamps: ts.then(|| (tcb.tsval(now), if ack { tcb.ts.recent } else { 0 })),
    }
}

/// Sends (or re-sends) our SYN or SYN-ACK and arms the retransmission timer.
pub fn send_syn(tcb: &mut Tcb, sh: &mut Shared, out: &mut Out, ack: bool) {
    let repr = syn_repr(tcb, sh, out.now, ack);
    if ack {
        tcb.rcv.last_ack_sent = tcb.rcv.nxt;
    }
    output::emit(tcb, sh, out, &repr, None);
    tcb.snd.nxt = tcb.snd.iss + 1;
    tcb.last_tx = out.now;
    let at = out.now + tcb.rtt.rto();
    set_timer(tcb, sh, TimerKind::Rto, at);
}
