//! Opening handshake pieces shared by active and passive opens: creating a TCB, taking the
//! options the SYNs agreed on (`options`: RFC 9293 §3.7.1 MSS; RFC 7323 window scale and
//! timestamps; RFC 2018 SACK-permitted; `ecn`: RFC 3168 §6.1.1) into it, and sending SYN /
//! SYN-ACK.

use super::congestion::Congestion;
use super::ctx::{Out, Shared, set_timer};
use super::ecn;
use super::flow::FourTuple;
use super::options::{self, default_mss, our_mss, wscale_for};
use super::output;
use super::recovery::Recovery;
use super::recv_queue::{RecvQueue, RecvStorage};
use super::rtt::RttEstimator;
use super::segment::SegmentSink;
use super::send_queue::{SendQueue, SendStorage};
use super::slab::Slab;
use super::state::State;
use super::tcb::{CaState, CwndUse, Rcv, Snd, Tcb, Ts, flag};
use super::timer::{TimerKind, TimerTable};
use super::types::{ConnOptions, TcpError};
use crate::time::Instant;
use crate::wire::{SackBlocks, TcpFlags, TcpRepr};

/// Allocates a TCB for `tuple` in `state` (SYN-SENT or SYN-RECEIVED, counted in no gauge),
/// registers it in the flow table, and returns its slab index.
pub fn create(
    conns: &mut Slab<Tcb>,
    sh: &mut Shared,
    now: Instant,
    tuple: FourTuple,
    state: State,
    opts: ConnOptions,
) -> Result<u32, TcpError> {
    debug_assert!(matches!(state, State::SynSent | State::SynReceived));
    let iss = sh.isn.isn(now, &tuple);
    let mss = our_mss(sh.caps.for_addr(tuple.remote_ip), sh.cfg.mss_clamp);
    let ts_offset = sh.isn.ts_offset(tuple.local_ip, tuple.remote_ip);
    let make = |handle| Tcb {
        handle,
        state,
        tuple,
        snd: Snd {
            una: iss,
            nxt: iss,
            iss,
            mss: mss.min(default_mss(tuple.is_ipv6())),
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
        ecn: ecn::initial(opts.ecn, state == State::SynSent, iss),
        flags: 0,
        opts,
        // No queue storage until data is queued (`tcp::spare`).
        sq: SendQueue::with_storage(iss + 1, SendStorage::none()),
        rq: RecvQueue::with_storage(RecvStorage::none()),
        rtt: RttEstimator::new(sh.cfg.rtt),
        cc: Congestion::new(opts.congestion.unwrap_or(sh.cfg.congestion), u32::from(mss)),
        ca: CaState::Open,
        dupacks: 0,
        timers: TimerTable::default(),
        retries: 0,
        probes: 0,
        rec: Recovery::new(),
        cwnd_use: CwndUse::default(),
        quickack: sh.cfg.quickack_segments,
        dsack: Default::default(),
        listener: None,
        queued: Default::default(),
        error: None,
        last_rx: now,
        last_tx: now,
        tw_since: Instant::ZERO,
        retransmits: 0,
        last_oow_ack: Instant::FAR_FUTURE,
        recover: iss,
    };
    let h = conns.insert_with(make).ok_or(TcpError::TableFull)?;
    sh.flows.insert(tuple, h.index);
    Ok(h.index)
}

/// Takes what our SYN and the peer's SYN (or SYN-ACK) `r` agreed on into `tcb`
/// (`options::negotiate`), and starts congestion control at the agreed MSS.
pub fn negotiate(tcb: &mut Tcb, sh: &Shared, r: &TcpRepr, now: Instant) {
    let a = options::negotiate(&sh.cfg, tcb.rcv.mss, tcb.rcv.wscale, r, tcb.tuple.is_ipv6());
    tcb.snd.wscale = a.snd_wscale;
    tcb.rcv.wscale = a.rcv_wscale;
    tcb.ts.enabled = a.ts_recent.is_some();
    if let Some(tsval) = a.ts_recent {
        tcb.ts.recent = tsval;
        tcb.ts.recent_at = now;
    }
    if a.sack {
        tcb.set(flag::SACK_OK);
    }
    ecn::negotiate(tcb, r);
    tcb.snd.mss = a.snd_mss;
    let kind = tcb.opts.congestion.unwrap_or(sh.cfg.congestion);
    tcb.cc = Congestion::new(kind, u32::from(tcb.snd.mss));
    tcb.snd.wnd = a.snd_wnd;
    tcb.snd.max_wnd = a.snd_wnd;
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
        } | ecn::syn_flags(tcb, ack),
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
pub fn send_syn<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    out: &mut Out<S>,
    ack: bool,
) {
    let repr = syn_repr(tcb, sh, out.now, ack);
    if ack {
        tcb.rcv.last_ack_sent = tcb.rcv.nxt;
    }
    output::emit(tcb, sh, out, &repr);
    tcb.snd.nxt = tcb.snd.iss + 1;
    tcb.last_tx = out.now;
    let at = out.now + tcb.rtt.rto();
    set_timer(tcb, sh, TimerKind::Rto, at);
}
