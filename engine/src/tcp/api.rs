//! What applications call, on the stack's own core (run to completion, no locks): listen,
//! accept, connect, send (copy or zero-copy mbufs), receive (copy, borrowed slices, or the
//! mbufs themselves), shutdown, close, abort, options, and events.
//!
//! Handles are checked on every call: a handle the application closed, or one from another
//! core, gives `TcpError::InvalidHandle`, never a panic.

use std::net::IpAddr;

use super::congestion::CongestionControl;
use super::ctx::{
    Out, Shared, ack_now, app_holds, arm_keepalive, close_tcb, drop_events, notify_readable,
    set_state, set_timer, throttle,
};
use super::flow::FourTuple;
use super::handshake;
use super::layer::{Tcp, handle_of};
use super::listener::Listener;
use super::output;
use super::segment::SegmentSink;
use super::state::State;
use super::tcb::{Tcb, flag};
use super::timer::TimerKind;
use super::types::{ConnId, ConnInfo, ConnOptions, ListenerId, TcpError};
use crate::buf::{HDR_DATA_ROOM, HEADROOM, Pkt};

impl Tcp {
    /// Listens on `port`, on every address of the stack and in both families, with room for
    /// `backlog` half-open and `backlog` unaccepted connections; accepted connections start
    /// with `opts` (or the configured defaults).
    pub fn listen(
        &mut self,
        port: u16,
        backlog: u32,
        opts: Option<ConnOptions>,
    ) -> Result<ListenerId, TcpError> {
        if self.sh.listen_ports.get(port).is_some() {
            return Err(TcpError::AddrInUse(port));
        }
        let id = self.sh.listeners.next_id();
        let opts = opts.unwrap_or(self.sh.cfg.default_options);
        let max = self.sh.cfg.max_connections;
        self.sh
            .listeners
            .insert(Listener::new(id, port, backlog, opts, max));
        self.sh.listen_ports.insert(port, id.slot);
        Ok(id)
    }

    /// Stops listening; connections not yet accepted are reset. Half-open children
    /// (SYN-RECEIVED) keep the id of a listener that no longer exists: when their handshake
    /// completes they are reset (`input::establish_passive`), as they would be had they
    /// completed against a closed port.
    pub fn unlisten<S: SegmentSink + ?Sized>(&mut self, l: ListenerId, out: &mut Out<S>) {
        let Some(lis) = self.sh.listeners.remove(l) else {
            return;
        };
        self.sh.listen_ports.remove(lis.port);
        for h in lis.accept {
            if let Some(tcb) = self.conns.get_mut(h) {
                tcb.listener = None;
                output::send_rst(tcb, &mut self.sh, out);
                close_tcb(tcb, &mut self.sh, None);
            }
        }
        self.reap();
    }

    /// The next established connection of listener `l`, if any.
    pub fn accept(&mut self, l: ListenerId) -> Option<ConnId> {
        let lis = self.sh.listeners.get_mut(l)?;
        let h = lis.accept.pop_front()?;
        let tcb = self.conns.get_mut(h)?;
        tcb.listener = None;
        tcb.set(flag::APP_OWNED);
        arm_keepalive(tcb, &mut self.sh);
        if tcb.rq.bytes() > 0 || tcb.rcv.fin_at.is_some() || tcb.state != State::Established {
            notify_readable(tcb, &mut self.sh);
        }
        Some(ConnId(h))
    }

    /// Opens a connection from our address `local_ip` to `remote` (RFC 9293 §3.10.1):
    /// chooses an ephemeral port (RFC 6056) and an ISN (RFC 6528), sends the SYN.
    /// `Event::Connected` follows, or `Event::Closed` with the reason. The layer below chose
    /// `local_ip` (its source address for `remote`, of the same family).
    pub fn connect<S: SegmentSink + ?Sized>(
        &mut self,
        local_ip: IpAddr,
        remote: (IpAddr, u16),
        opts: Option<ConnOptions>,
        out: &mut Out<S>,
    ) -> Result<ConnId, TcpError> {
        self.connect_from(local_ip, None, remote, opts, out)
    }

    /// [`Tcp::connect`] from a fixed local port (`None`: an ephemeral one), for a simultaneous
    /// open (RFC 9293 §3.5, figure 8), where each side must know the other's port. A fixed
    /// port whose 4-tuple is taken, TIME-WAIT included, gives `AddrInUse`.
    pub fn connect_from<S: SegmentSink + ?Sized>(
        &mut self,
        local_ip: IpAddr,
        local_port: Option<u16>,
        remote: (IpAddr, u16),
        opts: Option<ConnOptions>,
        out: &mut Out<S>,
    ) -> Result<ConnId, TcpError> {
        if local_ip.is_ipv6() != remote.0.is_ipv6() {
            return Err(TcpError::NoRoute);
        }
        // An ephemeral port comes with its 4-tuple free (pick_port checked it, and ended a
        // reusable TIME-WAIT holding it); a fixed one must be checked here.
        let port = match local_port {
            Some(p) => p,
            None => self.pick_port(local_ip, remote, out.now)?,
        };
        let tuple = FourTuple::new((local_ip, port), remote);
        if local_port.is_some() && self.sh.flows.get(&tuple).is_some() {
            return Err(TcpError::AddrInUse(port));
        }
        let opts = opts.unwrap_or(self.sh.cfg.default_options);
        let idx = handshake::create(
            &mut self.conns,
            &mut self.sh,
            out.now,
            tuple,
            State::SynSent,
            opts,
        )?;
        // `create` returned the index of the entry it just inserted.
        let Some(tcb) = self.conns.get_by_index_mut(idx) else {
            return Err(TcpError::TableFull);
        };
        tcb.set(flag::APP_OWNED);
        if out.sink.has_control_room() {
            handshake::send_syn(tcb, &mut self.sh, out, false);
        } else {
            // The transmit queue is full: the SYN waits its turn (`output::push_pending`).
            tcb.set(flag::SYN_DEFERRED);
            throttle(tcb, &mut self.sh);
        }
        self.sh.counters.active_opens += 1;
        Ok(ConnId(tcb.handle))
    }

    /// This core's view of flow ownership (multi-core steering), if it has one.
    pub fn steering(&self) -> Option<&crate::rss::FlowSteer> {
        self.sh.cfg.steering.as_ref()
    }

    /// The view, to apply overrides to (`Stack` does, from the steering mesh).
    pub fn steering_mut(&mut self) -> Option<&mut crate::rss::FlowSteer> {
        self.sh.cfg.steering.as_mut()
    }

    /// Sets the view (`Stack::set_steering`).
    pub fn set_steering(&mut self, view: Option<crate::rss::FlowSteer>) {
        self.sh.cfg.steering = view;
    }

    /// An ephemeral port for `remote` whose 4-tuple is free (a TIME-WAIT tuple may be reused
    /// under `tw_reuse_after`) and, with steering, whose flow `FlowSteer::owner_of` gives to
    /// this core.
    fn pick_port(
        &mut self,
        local_ip: IpAddr,
        remote: (IpAddr, u16),
        now: crate::time::Instant,
    ) -> Result<u16, TcpError> {
        let (conns, sh) = (&mut self.conns, &mut self.sh);
        let steer = sh.cfg.steering.as_ref();
        let reuse = sh.cfg.tw_reuse_after;
        let mut reusable = None;
        let flows = &sh.flows;
        let port = sh.ports.alloc(local_ip, remote, |p| {
            let t = FourTuple::new((local_ip, p), remote);
            // ARCHITECTURE decision 8: the flow's frames must reach this core.
            if steer.is_some_and(|s| !s.is_mine(&t)) {
                return false;
            }
            match flows.get(&t) {
                None => true,
                Some(idx) => {
                    let ok = conns.get_by_index(idx).is_some_and(|tcb| {
                        tcb.state == State::TimeWait
                            && tcb.ts.enabled
                            && reuse.is_some_and(|d| now - tcb.tw_since >= d)
                    });
                    if ok {
                        reusable = Some(idx);
                    }
                    ok
                }
            }
        });
        let port = port.ok_or(TcpError::NoPorts)?;
        if let Some(tcb) = reusable
            .and_then(|i| conns.get_by_index_mut(i))
            .filter(|t| t.tuple.local_port == port)
        {
            sh.counters.tw_recycled += 1;
            close_tcb(tcb, sh, None);
            self.reap();
        }
        Ok(port)
    }

    fn owned(&mut self, c: ConnId) -> Result<&mut Tcb, TcpError> {
        match self.conns.get_mut(c.0) {
            Some(t) if app_holds(t) => Ok(t),
            _ => Err(TcpError::InvalidHandle),
        }
    }

    /// Queues a copy of `data` for sending and sends what the windows allow. Returns the bytes
    /// taken (fewer than `data.len()` when the send buffer fills: wait for `Writable`).
    ///
    /// Under memory pressure (`memory`) nothing is taken: `WouldBlock`, and `Writable` follows
    /// once the pools recovered (Linux `sk_stream_memory_free`, `sk_wmem_schedule`). The copy
    /// is the one place the application makes the stack allocate payload room, so this gate
    /// keeps the reserve under the pressure line for ACKs, retransmissions and received data.
    pub fn send<S: SegmentSink + ?Sized>(
        &mut self,
        c: ConnId,
        data: &[u8],
        out: &mut Out<S>,
    ) -> Result<usize, TcpError> {
        let tcb = match self.conns.get_mut(c.0) {
            Some(t) if app_holds(t) => t,
            _ => return Err(TcpError::InvalidHandle),
        };
        writable(tcb)?;
        let room = (tcb.opts.sndbuf as usize).saturating_sub(tcb.sq.bytes());
        let mut take = room.min(data.len());
        if take == 0 {
            tcb.set(flag::WANT_WRITE);
            return Err(TcpError::WouldBlock);
        }
        let goal = output::size_goal(tcb, &self.sh);
        // Bytes one data mbuf holds in a unit: a unit is one MSS, or a TSO chain of full mbufs.
        let per_mbuf = goal
            .min(usize::from(self.sh.pools.data.data_room()).saturating_sub(HEADROOM))
            .max(1);
        let need = take.div_ceil(per_mbuf) as u32 + 1;
        // Under pressure, or after a refusal, wait for the stack's periodic evaluation: an
        // application retrying in a loop must not count the pools on every call.
        if !self.sh.mem.budget_covers(need) && !self.sh.mem.under_pressure() && !self.sh.mem.refused
        {
            self.evaluate_memory();
        }
        if !self.sh.mem.budget_covers(need) {
            // Near the pressure line the budget may cover part of the copy only.
            take = take.min(self.sh.mem.budget_bytes(per_mbuf));
        }
        let sh = &mut self.sh;
        let Some(tcb) = self.conns.get_mut(c.0) else {
            return Err(TcpError::InvalidHandle);
        };
        if take == 0 {
            tcb.set(flag::WANT_WRITE);
            sh.counters.send_pressure += 1;
            sh.mem.refused = true;
            return Err(TcpError::WouldBlock);
        }
        let mbufs = tcb.sq.mbufs();
        sh.spares.fill_send(&mut tcb.sq);
        // A small write (at most one piece of a send is) goes to a header mbuf while that pool
        // has room above its pressure line (`memory::Memory::take_small`).
        let last_piece = take % goal.max(1);
        let fits = last_piece <= usize::from(HDR_DATA_ROOM) - HEADROOM;
        let small = if fits && sh.mem.take_small() {
            &sh.pools.hdr
        } else {
            &sh.pools.data
        };
        let n = tcb.sq.append(&data[..take], goal, &sh.pools.data, small);
        sh.mem.charge(tcb.sq.mbufs().saturating_sub(mbufs) as u32);
        if n < data.len() {
            tcb.set(flag::WANT_WRITE);
        }
        output::write_xmit(tcb, sh, out);
        if n == 0 {
            return Err(TcpError::NoBufs);
        }
        Ok(n)
    }

    /// Queues `pkt`'s bytes for sending without copying them (the mbufs themselves are sent
    /// by reference). On error the packet is handed back.
    ///
    /// Memory pressure does not refuse it (see `memory`): the mbufs exist already (for an echo
    /// or a proxy, they are the ones just received) and only indirect clones are allocated, so
    /// refusing frees nothing, and a zero-copy forwarder refused would hold its receive queue
    /// full, the very memory the pressure waits for.
    pub fn send_pkt<S: SegmentSink + ?Sized>(
        &mut self,
        c: ConnId,
        pkt: Pkt,
        out: &mut Out<S>,
    ) -> Result<(), (TcpError, Pkt)> {
        let sh = &mut self.sh;
        let tcb = match self.conns.get_mut(c.0) {
            Some(t) if app_holds(t) => t,
            _ => return Err((TcpError::InvalidHandle, pkt)),
        };
        if let Err(e) = writable(tcb) {
            return Err((e, pkt));
        }
        if tcb.sq.bytes() + pkt.len() > tcb.opts.sndbuf as usize && tcb.sq.bytes() > 0 {
            tcb.set(flag::WANT_WRITE);
            return Err((TcpError::WouldBlock, pkt));
        }
        let goal = output::size_goal(tcb, sh);
        sh.spares.fill_send(&mut tcb.sq);
        tcb.sq
            .append_pkt(pkt, goal, &sh.pools.indirect)
            .map_err(|p| (TcpError::NoBufs, p))?;
        output::write_xmit(tcb, sh, out);
        Ok(())
    }

    /// Copies received bytes into `buf`. `Ok(0)` means the peer closed its side and everything
    /// was read (end of file); `WouldBlock` means nothing to read yet.
    pub fn recv(&mut self, c: ConnId, buf: &mut [u8]) -> Result<usize, TcpError> {
        let sh = &mut self.sh;
        let tcb = match self.conns.get_mut(c.0) {
            Some(t) if app_holds(t) => t,
            _ => return Err(TcpError::InvalidHandle),
        };
        let n = tcb.rq.read(buf);
        after_read(tcb, sh, n)
    }

    /// Takes the next chain of received mbufs, without copying. `Ok(None)` is end of file.
    pub fn recv_pkt(&mut self, c: ConnId) -> Result<Option<Pkt>, TcpError> {
        let sh = &mut self.sh;
        let tcb = match self.conns.get_mut(c.0) {
            Some(t) if app_holds(t) => t,
            _ => return Err(TcpError::InvalidHandle),
        };
        match tcb.rq.take() {
            Some(p) => {
                let n = p.len();
                after_read(tcb, sh, n)?;
                Ok(Some(p))
            }
            None => after_read(tcb, sh, 0).map(|_| None),
        }
    }

    /// Borrows the readable bytes as slices of the received mbufs (no copy); follow with
    /// [`Tcp::consume`].
    pub fn peek(&self, c: ConnId) -> Result<impl Iterator<Item = &[u8]>, TcpError> {
        match self.conns.get(c.0) {
            Some(t) if app_holds(t) => Ok(t.rq.peek()),
            _ => Err(TcpError::InvalidHandle),
        }
    }

    /// Drops `n` readable bytes (after [`Tcp::peek`]). Returns how many were dropped.
    pub fn consume(&mut self, c: ConnId, n: usize) -> Result<usize, TcpError> {
        let sh = &mut self.sh;
        let tcb = match self.conns.get_mut(c.0) {
            Some(t) if app_holds(t) => t,
            _ => return Err(TcpError::InvalidHandle),
        };
        let n = tcb.rq.consume(n);
        if n > 0 {
            after_read(tcb, sh, n)?;
        }
        Ok(n)
    }

    /// Bytes ready to read.
    pub fn readable(&self, c: ConnId) -> usize {
        self.conns
            .get(c.0)
            .filter(|t| app_holds(t))
            .map_or(0, |t| t.rq.bytes())
    }

    /// Shuts down the sending side: queues our FIN after the data (RFC 9293 §3.10.4).
    pub fn shutdown<S: SegmentSink + ?Sized>(
        &mut self,
        c: ConnId,
        out: &mut Out<S>,
    ) -> Result<(), TcpError> {
        let sh = &mut self.sh;
        let tcb = match self.conns.get_mut(c.0) {
            Some(t) if app_holds(t) => t,
            _ => return Err(TcpError::InvalidHandle),
        };
        shutdown_write(tcb, sh, out);
        Ok(())
    }

    /// Releases the handle. Unread data makes it an abort (RST, RFC 2525 §2.17, as Linux);
    /// otherwise our FIN goes after the queued data and the connection finishes on its own.
    pub fn close<S: SegmentSink + ?Sized>(&mut self, c: ConnId, out: &mut Out<S>) {
        let sh = &mut self.sh;
        let Some(tcb) = self.conns.get_mut(c.0).filter(|t| app_holds(t)) else {
            return;
        };
        tcb.set(flag::ORPHAN);
        drop_events(tcb);
        match tcb.state {
            State::Closed => sh.reap.push(tcb.handle.index),
            State::SynSent => close_tcb(tcb, sh, None),
            State::SynReceived => {
                output::send_rst(tcb, sh, out);
                close_tcb(tcb, sh, None);
            }
            _ if tcb.rq.bytes() > 0 => {
                sh.counters.abort_on_close += 1;
                output::send_rst(tcb, sh, out);
                close_tcb(tcb, sh, None);
            }
            // Already in FIN-WAIT-2: the orphan waits for the peer's FIN only so long, as it
            // would had it been closed earlier (Linux tcp_close arms tcp_fin_timeout too).
            State::FinWait2 => {
                let at = out.now + sh.cfg.fin_timeout;
                set_timer(tcb, sh, TimerKind::FinWait2, at);
            }
            _ => shutdown_write(tcb, sh, out),
        }
        self.reap();
    }

    /// Resets the connection at once (RFC 9293 §3.10.5 ABORT) and releases the handle.
    pub fn abort<S: SegmentSink + ?Sized>(&mut self, c: ConnId, out: &mut Out<S>) {
        let sh = &mut self.sh;
        let Some(tcb) = self.conns.get_mut(c.0).filter(|t| app_holds(t)) else {
            return;
        };
        tcb.set(flag::ORPHAN);
        drop_events(tcb);
        if tcb.state.is_synchronized() || tcb.state == State::SynReceived {
            output::send_rst(tcb, sh, out);
        }
        close_tcb(tcb, sh, None);
        self.reap();
    }

    /// Changes a connection's options (uncorking or disabling Nagle sends what was held).
    pub fn set_options<S: SegmentSink + ?Sized>(
        &mut self,
        c: ConnId,
        opts: ConnOptions,
        out: &mut Out<S>,
    ) -> Result<(), TcpError> {
        let sh = &mut self.sh;
        let tcb = match self.conns.get_mut(c.0) {
            Some(t) if app_holds(t) => t,
            _ => return Err(TcpError::InvalidHandle),
        };
        let keepalive_on = opts.keepalive.is_some() && tcb.opts.keepalive != opts.keepalive;
        tcb.opts = opts;
        if keepalive_on {
            arm_keepalive(tcb, sh);
        }
        output::write_xmit(tcb, sh, out);
        Ok(())
    }

    /// The connection's options.
    pub fn options(&mut self, c: ConnId) -> Result<ConnOptions, TcpError> {
        self.owned(c).map(|t| t.opts)
    }

    /// A snapshot of the connection's state.
    pub fn info(&self, c: ConnId) -> Option<ConnInfo> {
        let t = self.conns.get(c.0)?;
        Some(ConnInfo {
            state: t.state,
            tuple: t.tuple,
            local: t.tuple.local(),
            remote: t.tuple.remote(),
            mss: t.snd.mss,
            snd_una: t.snd.una.0,
            snd_nxt: t.snd.nxt.0,
            rcv_nxt: t.rcv.nxt.0,
            snd_wnd: t.snd.wnd,
            rcv_wnd: t.rcv.adv.diff(t.rcv.nxt).max(0) as u32,
            cwnd: t.cwnd(),
            ssthresh: t.cc.ssthresh(),
            congestion: t.cc.name(),
            srtt: t.rtt.srtt(),
            rto: t.rtt.rto(),
            timestamps: t.ts.enabled,
            sack: t.sack_ok(),
            ecn: t.ecn.ok,
            rcv_wscale: t.rcv.wscale,
            snd_wscale: t.snd.wscale,
            unsent_bytes: t.sq.unsent_bytes(),
            unacked_bytes: t.sq.sent_bytes(),
            readable_bytes: t.rq.bytes(),
            retransmits: u64::from(t.retransmits),
        })
    }

    /// The error that ended the connection, if it ended with one.
    pub fn error(&self, c: ConnId) -> Option<TcpError> {
        self.conns.get(c.0).and_then(|t| t.error)
    }

    /// Handle of the connection at slab index `idx` (diagnostics).
    pub fn conn_at(&self, idx: u32) -> Option<ConnId> {
        handle_of(&self.conns, idx).map(ConnId)
    }
}

/// May the application queue data on `tcb`?
fn writable(tcb: &Tcb) -> Result<(), TcpError> {
    if let Some(e) = tcb.error {
        return Err(e);
    }
    if tcb.has(flag::WR_SHUTDOWN) {
        return Err(TcpError::Shutdown);
    }
    match tcb.state {
        State::Established | State::CloseWait => Ok(()),
        State::SynSent | State::SynReceived => Err(TcpError::NotConnected),
        _ => Err(TcpError::Shutdown),
    }
}

/// After the application read `n` bytes: re-arm the readable edge when drained, report end
/// of file or the error, and queue a window update when the window grew enough to matter
/// (two segments, or half the buffer: Linux `tcp_cleanup_rbuf`).
fn after_read(tcb: &mut Tcb, sh: &mut Shared, n: usize) -> Result<usize, TcpError> {
    if tcb.rq.bytes() == 0 {
        tcb.clear(flag::READ_NOTIFIED);
        // Everything read: the arrays go back to the pool (`tcp::spare`).
        sh.spares.return_recv(&mut tcb.rq);
    }
    if n == 0 {
        if let Some(e) = tcb.error {
            return Err(e);
        }
        let eof = matches!(
            tcb.state,
            State::CloseWait | State::Closing | State::LastAck | State::TimeWait | State::Closed
        );
        return if eof {
            Ok(0)
        } else {
            Err(TcpError::WouldBlock)
        };
    }
    if tcb.state.can_receive() {
        let cur = tcb.rcv.adv.diff(tcb.rcv.nxt).max(0) as u32;
        let free = tcb.rcv_free();
        let step = (2 * u32::from(tcb.rcv.mss)).min(tcb.opts.rcvbuf / 2);
        if free >= cur + step {
            ack_now(tcb, sh);
        }
    }
    Ok(n)
}

/// Queues our FIN and moves to FIN-WAIT-1 or LAST-ACK (RFC 9293 §3.10.4).
fn shutdown_write<S: SegmentSink + ?Sized>(tcb: &mut Tcb, sh: &mut Shared, out: &mut Out<S>) {
    if tcb.has(flag::WR_SHUTDOWN) {
        return;
    }
    match tcb.state {
        State::Established => set_state(tcb, sh, State::FinWait1),
        State::CloseWait => set_state(tcb, sh, State::LastAck),
        _ => return,
    }
    tcb.set(flag::WR_SHUTDOWN);
    sh.spares.fill_send(&mut tcb.sq);
    tcb.sq.push_fin();
    output::write_xmit(tcb, sh, out);
}
