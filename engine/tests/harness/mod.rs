//! A packet-level harness for TCP state tests, in the manner of packetdrill and of smoltcp's
//! per-state tests (style-models §1, §7.6).
//!
//! One engine [`Stack`] sits on one end of a [`SimLink`] with zero latency and unlimited
//! bandwidth; the test holds the other [`SimPort`] and plays the peer by hand:
//! - [`Harness::send`] / [`Harness::send_data`] build a complete frame (Ethernet, IPv4 and TCP
//!   headers with correct checksums, the options of the [`TcpRepr`], the payload), transmit it
//!   to the stack and poll the stack once;
//! - everything the stack transmits is drained after every poll into an inbox (with its
//!   arrival instant): [`Harness::recv`], [`Harness::expect`], [`Harness::expect_repr`],
//!   [`Harness::expect_nothing`] read it. ARP requests are answered on the spot and never reach
//!   the inbox (the stack's neighbour cache is also pre-seeded);
//! - [`Harness::advance`] moves virtual time, polling at every deadline the stack reports so
//!   that timers fire at their exact instant.
//!
//! Segments are written as struct-update templates: `TcpRepr { seq: h.irs + 1, ack: h.iss + 1,
//! ..SEND_TEMPL }`. Ports left at 0 are filled in with the harness connection's ports. When
//! the peer negotiated timestamps (the default), a segment sent without a timestamp option
//! gets `(peer clock, last TSval the stack sent)`; set `timestamps` explicitly to test PAWS.
//! [`Harness::expect_repr`] compares whole headers, treating the expected `timestamps: None` as
//! "any" when the connection uses timestamps.
//!
//! Sequence numbers are relative to `h.iss` (the stack's initial sequence number, learned
//! from its SYN or SYN-ACK) and `h.irs` (the peer's, [`REMOTE_ISS`]).
//!
//! Each helper that reaches a state (`established_passive`, `fin_wait_1`, ...) asserts the
//! segments and state on the way, so a broken transition fails in the helper first.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::Duration;

use engine::buf::{Mempool, Pkt, PoolSizes, Pools};
use engine::dev::Device;
use engine::dev::sim::{SimConfig, SimLink, SimPort};
use engine::tcp::{ConnId, ConnInfo, ConnOptions, Event, ListenerId, State, TcpError};
use engine::time::Instant;
use engine::wire::{
    ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetFrame, EthernetRepr, IpProtocol,
    Ipv4Packet, Ipv4Repr, MacAddr, SackBlocks, SeqNum, TcpFlags, TcpPacket, TcpRepr,
};
use engine::{Stack, StackConfig, eal};

/// The stack's address and MAC.
pub const LOCAL_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const LOCAL_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
/// The peer's (the test's) address and MAC.
pub const REMOTE_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const REMOTE_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);
/// The port the stack listens on in passive opens.
pub const LOCAL_PORT: u16 = 80;
/// The peer's port: the source of its SYNs, the destination of the stack's connects.
pub const REMOTE_PORT: u16 = 49152;
/// The peer's initial sequence number.
pub const REMOTE_ISS: SeqNum = SeqNum(1_000_000);
/// MSS the peer offers by default.
pub const REMOTE_MSS: u16 = 1460;
/// The stack's MSS (MTU 1500 minus 40).
pub const LOCAL_MSS: u16 = 1460;
/// The stack's send MSS against a peer using timestamps (1460 - 12 option bytes).
pub const SEND_MSS: usize = 1448;
/// Base of the peer's timestamp clock (TSval = base + virtual ms).
pub const PEER_TS_BASE: u32 = 5_000_000;
/// Start of virtual time.
pub const T0: Instant = Instant::from_millis(1000);

/// Template for segments the peer sends: a bare ACK, window 65535, no options.
pub const SEND_TEMPL: TcpRepr = TcpRepr {
    src_port: 0,
    dst_port: 0,
    seq: SeqNum(0),
    ack: SeqNum(0),
    flags: TcpFlags::ACK,
    window: 65535,
    urgent: 0,
    mss: None,
    window_scale: None,
    sack_permitted: false,
    sack: SackBlocks::new(),
    timestamps: None,
};

/// Template for segments expected from the stack: an ACK offering the full 64 KiB window
/// (1 MiB buffer, no window scaling against the default peer), no options.
pub const RECV_TEMPL: TcpRepr = TcpRepr {
    window: 65535,
    ..SEND_TEMPL
};

/// What the stack sends once the peer's FIN took a sequence number: the right edge stays, so
/// the window is one less.
pub const RECV_AFTER_FIN: TcpRepr = TcpRepr {
    window: 65534,
    ..RECV_TEMPL
};

/// Flag sets, for brevity.
pub const ACK: TcpFlags = TcpFlags::ACK;
pub const SYN: TcpFlags = TcpFlags::SYN;
pub const FIN: TcpFlags = TcpFlags::FIN;
pub const RST: TcpFlags = TcpFlags::RST;
pub const PSH: TcpFlags = TcpFlags::PSH;

/// SACK blocks from a list of `(start, end)`.
pub fn sack(blocks: &[(SeqNum, SeqNum)]) -> SackBlocks {
    let mut s = SackBlocks::new();
    for &b in blocks {
        assert!(s.push(b), "at most 4 SACK blocks");
    }
    s
}

/// What the peer offers on its SYN (or SYN-ACK).
#[derive(Clone, Copy, Debug)]
pub struct PeerOpts {
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    pub timestamps: bool,
    pub window: u16,
}

impl Default for PeerOpts {
    /// MSS 1460, SACK-permitted and timestamps; no window scaling (keeps windows unscaled).
    fn default() -> Self {
        PeerOpts {
            mss: Some(REMOTE_MSS),
            window_scale: None,
            sack_permitted: true,
            timestamps: true,
            window: 65535,
        }
    }
}

/// One segment the stack sent, with the virtual instant it reached the peer.
#[derive(Clone, Debug)]
pub struct Seg {
    pub at: Instant,
    pub repr: TcpRepr,
    pub payload: Vec<u8>,
}

/// The stack under test and the peer's raw end of the link.
pub struct Harness {
    pub stack: Stack<SimPort>,
    pub peer: SimPort,
    /// Mbufs for the frames the peer builds.
    pool: Mempool,
    /// Virtual time.
    pub now: Instant,
    /// The stack's initial sequence number (once known).
    pub iss: SeqNum,
    /// The peer's initial sequence number.
    pub irs: SeqNum,
    /// Ports of the connection under test (local = the stack's).
    pub local_port: u16,
    pub remote_port: u16,
    /// What the peer offered in the handshake.
    pub peer_opts: PeerOpts,
    /// The peer uses timestamps on this connection (auto-filled on sends).
    pub ts: bool,
    /// The last TSval the stack sent (the peer's TS.Recent).
    pub ts_recent: u32,
    pub listener: Option<ListenerId>,
    pub conn: Option<ConnId>,
    inbox: VecDeque<Seg>,
    /// Events the stack posted, oldest first.
    pub events: VecDeque<Event>,
    rx: Vec<Pkt>,
    /// ARP requests answered.
    pub arp_answered: u32,
}

impl Harness {
    /// A stack with the default configuration.
    pub fn new() -> Harness {
        Harness::with_config(|_| {})
    }

    /// A stack whose configuration `f` adjusts (TCP timers, options, ...).
    pub fn with_config(f: impl FnOnce(&mut StackConfig)) -> Harness {
        eal::init_for_tests();
        // Small pools: a state test holds a handful of segments, and pools are never freed.
        let sizes = PoolSizes {
            data: 255,
            hdr: 255,
            indirect: 255,
        };
        let pools = Pools::create("hs", &sizes).expect("stack pools");
        let link_pool = Mempool::create("hl", 255, 0, 2176).expect("link pool");
        let pool = Mempool::create("hp", 127, 0, 2176).expect("peer pool");
        let cfg = SimConfig {
            latency: Duration::ZERO,
            bandwidth_bps: 0,
            queue_limit: 1024,
            mtu: 1500,
        };
        let (dev, peer) = SimLink::pair(link_pool, cfg, LOCAL_MAC, REMOTE_MAC);
        let mut sc = StackConfig::new(LOCAL_IP, 24);
        sc.seed = Some(7);
        sc.neighbor.gratuitous = false;
        sc.neighbor.ttl = Duration::from_secs(1 << 30);
        // A small table keeps set-up cheap (the slab, flow table and wheel are preallocated).
        sc.tcp.max_connections = 64;
        f(&mut sc);
        let mut stack = Stack::new(dev, pools, sc);
        stack.ip().arp().update(T0, REMOTE_IP, REMOTE_MAC, true);
        let mut h = Harness {
            stack,
            peer,
            pool,
            now: T0,
            iss: SeqNum(0),
            irs: REMOTE_ISS,
            local_port: LOCAL_PORT,
            remote_port: REMOTE_PORT,
            peer_opts: PeerOpts::default(),
            ts: false,
            ts_recent: 0,
            listener: None,
            conn: None,
            inbox: VecDeque::new(),
            events: VecDeque::new(),
            rx: Vec::new(),
            arp_answered: 0,
        };
        h.poll();
        h
    }

    // ---- time and polling ----

    /// Polls the stack at `now`, then collects what it sent and the events it posted.
    pub fn poll(&mut self) {
        self.stack.poll(self.now);
        self.drain();
    }

    /// Moves virtual time forward by `d`, polling at every deadline on the way.
    pub fn advance(&mut self, d: Duration) {
        let target = self.now + d;
        self.advance_to(target);
    }

    /// Moves virtual time to `target`, polling at every deadline on the way and at `target`.
    pub fn advance_to(&mut self, target: Instant) {
        for _ in 0..1_000_000 {
            match self.stack.next_deadline() {
                Some(t) if t <= target => {
                    let before = self.now;
                    self.now = self.now.max(t);
                    self.poll();
                    // A deadline that stays at or before `now` after a poll (a timer re-armed in
                    // the past) would loop forever: step past it.
                    if self.now == before && self.stack.next_deadline().is_some_and(|n| n <= before)
                    {
                        self.now += Duration::from_nanos(1);
                        if self.now > target {
                            break;
                        }
                    }
                }
                _ => break,
            }
        }
        self.now = self.now.max(target);
        self.poll();
    }

    /// The stack's next timer deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.stack.next_deadline()
    }

    fn drain(&mut self) {
        loop {
            self.rx.clear();
            let n = self.peer.rx_burst(self.now, &mut self.rx, 64);
            if n == 0 {
                break;
            }
            let frames = std::mem::take(&mut self.rx);
            for f in &frames {
                let bytes: Vec<u8> = f.segments().flat_map(|s| s.iter().copied()).collect();
                self.frame_in(&bytes);
            }
            self.rx = frames;
        }
        while let Some(ev) = self.stack.poll_event() {
            self.events.push_back(ev);
        }
    }

    /// Parses one frame from the stack, checking every header and checksum.
    fn frame_in(&mut self, bytes: &[u8]) {
        let eth = EthernetFrame::new_checked(bytes).expect("ethernet header");
        match eth.ethertype() {
            EtherType::Arp => {
                let arp = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).expect("arp"))
                    .expect("arp repr");
                if arp.operation == ArpOperation::Request && arp.target_ip == REMOTE_IP {
                    self.answer_arp(arp);
                }
            }
            EtherType::Ipv4 => {
                assert_eq!(eth.dst(), REMOTE_MAC, "frame to the peer's MAC");
                assert_eq!(eth.src(), LOCAL_MAC);
                let ip = Ipv4Packet::new_checked(eth.payload()).expect("ipv4 header");
                assert!(ip.verify_checksum(), "IPv4 header checksum");
                let ip_repr = Ipv4Repr::parse(&ip, true).expect("ipv4 repr");
                assert_eq!(ip_repr.protocol, IpProtocol::Tcp);
                assert_eq!((ip_repr.src, ip_repr.dst), (LOCAL_IP, REMOTE_IP));
                let tcp = TcpPacket::new_checked(ip.payload()).expect("tcp header");
                assert!(
                    tcp.verify_checksum(LOCAL_IP, REMOTE_IP),
                    "TCP checksum of a segment from the stack"
                );
                let repr = TcpRepr::parse(&tcp).expect("tcp repr");
                if let Some((tsval, _)) = repr.timestamps {
                    self.ts_recent = tsval;
                }
                self.inbox.push_back(Seg {
                    at: self.now,
                    repr,
                    payload: tcp.payload().to_vec(),
                });
            }
            other => panic!("unexpected ethertype {other:?}"),
        }
    }

    fn answer_arp(&mut self, req: ArpRepr) {
        let reply = ArpRepr {
            operation: ArpOperation::Reply,
            source_mac: REMOTE_MAC,
            source_ip: REMOTE_IP,
            target_mac: req.source_mac,
            target_ip: req.source_ip,
        };
        let mut buf = vec![0u8; 14 + reply.buffer_len()];
        EthernetRepr {
            src: REMOTE_MAC,
            dst: req.source_mac,
            ethertype: EtherType::Arp,
        }
        .emit(&mut buf);
        reply.emit(&mut buf[14..]);
        self.arp_answered += 1;
        self.transmit(&buf);
    }

    fn transmit(&mut self, frame: &[u8]) {
        let pkt = Pkt::from_slice(&self.pool, frame).expect("peer mbuf");
        let mut v = vec![pkt];
        self.peer.tx_burst(self.now, &mut v);
    }

    // ---- the peer sends ----

    /// The peer's timestamp clock now.
    pub fn peer_tsval(&self) -> u32 {
        PEER_TS_BASE.wrapping_add(self.now.as_millis() as u32)
    }

    /// Sends `repr` without payload (see [`Harness::send_data`]).
    pub fn send(&mut self, repr: TcpRepr) {
        self.send_data(repr, &[]);
    }

    /// Builds the frame for `repr` + `payload` from the peer, sends it, and polls the stack.
    /// Ports left at 0 take the connection's; a missing timestamp option is filled in when
    /// the peer uses timestamps.
    pub fn send_data(&mut self, repr: TcpRepr, payload: &[u8]) {
        let frame = self.build(repr, payload);
        self.transmit(&frame);
        self.poll();
    }

    /// Sends a frame exactly as given (for malformed or hand-built input).
    pub fn send_raw(&mut self, frame: &[u8]) {
        self.transmit(frame);
        self.poll();
    }

    /// The complete frame for `repr` + `payload`, as [`Harness::send_data`] sends it.
    pub fn build(&self, mut repr: TcpRepr, payload: &[u8]) -> Vec<u8> {
        if repr.src_port == 0 {
            repr.src_port = self.remote_port;
        }
        if repr.dst_port == 0 {
            repr.dst_port = self.local_port;
        }
        if self.ts && repr.timestamps.is_none() {
            repr.timestamps = Some((self.peer_tsval(), self.ts_recent));
        }
        let tcp_len = repr.buffer_len(payload.len());
        let ip = Ipv4Repr {
            src: REMOTE_IP,
            dst: LOCAL_IP,
            protocol: IpProtocol::Tcp,
            payload_len: tcp_len as u16,
            ttl: 64,
            ident: 0,
            dont_frag: true,
            dscp_ecn: 0,
        };
        let mut buf = vec![0u8; 14 + 20 + tcp_len];
        EthernetRepr {
            src: REMOTE_MAC,
            dst: LOCAL_MAC,
            ethertype: EtherType::Ipv4,
        }
        .emit(&mut buf);
        ip.emit(&mut buf[14..], true);
        let tcp = &mut buf[34..];
        repr.emit(tcp);
        let hl = repr.header_len();
        tcp[hl..].copy_from_slice(payload);
        TcpPacket::new_unchecked(&mut tcp[..]).fill_checksum(REMOTE_IP, LOCAL_IP);
        buf
    }

    // ---- the peer receives ----

    /// The next segment the stack sent, if any.
    pub fn recv(&mut self) -> Option<(TcpRepr, Vec<u8>)> {
        self.inbox.pop_front().map(|s| (s.repr, s.payload))
    }

    /// The next segment with its arrival instant.
    pub fn recv_seg(&mut self) -> Option<Seg> {
        self.inbox.pop_front()
    }

    /// Segments waiting in the inbox.
    pub fn pending(&self) -> usize {
        self.inbox.len()
    }

    /// Drops everything the stack sent so far.
    pub fn clear_inbox(&mut self) {
        self.inbox.clear();
    }

    /// Takes the next segment (failing if there is none), runs the checks in `f` on it, and
    /// returns its header.
    #[track_caller]
    pub fn expect(&mut self, f: impl FnOnce(&TcpRepr, &[u8])) -> TcpRepr {
        let Some(s) = self.inbox.pop_front() else {
            panic!(
                "expected a segment from the stack, got nothing (now {:?})",
                self.now
            );
        };
        f(&s.repr, &s.payload);
        s.repr
    }

    /// Expects exactly `expected` (ports left at 0 filled in; `timestamps: None` matches any
    /// timestamps) with no payload.
    #[track_caller]
    pub fn expect_repr(&mut self, expected: TcpRepr) -> TcpRepr {
        self.expect_data(expected, &[])
    }

    /// Expects exactly `expected` carrying `payload`.
    #[track_caller]
    pub fn expect_data(&mut self, mut expected: TcpRepr, payload: &[u8]) -> TcpRepr {
        let Some(s) = self.inbox.pop_front() else {
            panic!(
                "expected {} from the stack, got nothing (now {:?})",
                self.show(&expected, payload.len()),
                self.now
            );
        };
        if expected.src_port == 0 {
            expected.src_port = self.local_port;
        }
        if expected.dst_port == 0 {
            expected.dst_port = self.remote_port;
        }
        if expected.timestamps.is_none() {
            expected.timestamps = s.repr.timestamps;
        }
        assert_eq!(
            (s.repr, s.payload.len()),
            (expected, payload.len()),
            "\n got:      {}\n expected: {}",
            self.show(&s.repr, s.payload.len()),
            self.show(&expected, payload.len()),
        );
        assert!(s.payload == payload, "payload differs");
        s.repr
    }

    /// Fails if the stack sent anything not yet read.
    #[track_caller]
    pub fn expect_nothing(&mut self) {
        if let Some(s) = self.inbox.front() {
            panic!(
                "expected nothing, got {} at {:?}",
                self.show(&s.repr, s.payload.len()),
                s.at
            );
        }
    }

    /// A tcpdump-like line with sequence numbers relative to ISS / IRS.
    pub fn show(&self, r: &TcpRepr, len: usize) -> String {
        let rel = |s: SeqNum, base: SeqNum| s.0.wrapping_sub(base.0);
        let (sbase, abase) = if r.src_port == self.remote_port || r.dst_port == self.local_port {
            (self.irs, self.iss)
        } else {
            (self.iss, self.irs)
        };
        format!(
            "{:?} seq {} ack {} win {} len {} opts(mss {:?} ws {:?} sackok {} sack {:?} ts {:?})",
            r.flags,
            rel(r.seq, sbase),
            rel(r.ack, abase),
            r.window,
            len,
            r.mss,
            r.window_scale,
            r.sack_permitted,
            r.sack,
            r.timestamps
        )
    }

    // ---- the application side ----
    //
    // Application calls act at the time of the last poll; the `app_*` helpers poll right after
    // so that what the call queued leaves (the stack flushes its TX batch on every poll).

    /// The connection under test.
    #[track_caller]
    pub fn conn(&self) -> ConnId {
        self.conn.expect("no connection yet")
    }

    /// `info` of the connection under test.
    #[track_caller]
    pub fn info(&self) -> ConnInfo {
        self.stack.info(self.conn()).expect("connection exists")
    }

    /// The state of the connection under test.
    #[track_caller]
    pub fn state(&self) -> State {
        self.info().state
    }

    /// The state of the only connection in the table (for children not yet accepted).
    #[track_caller]
    pub fn only_state(&self) -> State {
        let c = self.only_conn();
        self.stack.info(c).expect("info").state
    }

    /// The handle of the only connection in the table.
    #[track_caller]
    pub fn only_conn(&self) -> ConnId {
        assert_eq!(self.stack.tcp().connections(), 1, "exactly one connection");
        (0..1024)
            .find_map(|i| self.stack.tcp().conn_at(i))
            .expect("a connection")
    }

    /// Connections in the stack's table (all states).
    pub fn connections(&self) -> usize {
        self.stack.tcp().connections()
    }

    /// Takes every event posted so far.
    pub fn take_events(&mut self) -> Vec<Event> {
        self.events.drain(..).collect()
    }

    /// Expects the next event to be `ev`.
    #[track_caller]
    pub fn expect_event(&mut self, ev: Event) {
        assert_eq!(self.events.pop_front(), Some(ev), "next event");
    }

    /// Fails if any event is pending.
    #[track_caller]
    pub fn expect_no_event(&mut self) {
        assert_eq!(self.events.front(), None, "no event expected");
    }

    /// Reads everything readable from the connection under test (`Ok(bytes)`), or the error.
    pub fn read_all(&mut self) -> Result<Vec<u8>, TcpError> {
        let c = self.conn();
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match self.stack.recv(c, &mut buf) {
                Ok(0) => return Ok(out),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(TcpError::WouldBlock) if !out.is_empty() => return Ok(out),
                Err(e) => return Err(e),
            }
        }
    }

    /// The application sends `data` on the connection under test; all of it must be taken.
    #[track_caller]
    pub fn app_send(&mut self, data: &[u8]) {
        let c = self.conn();
        assert_eq!(self.stack.send(c, data), Ok(data.len()), "send taken");
        self.poll();
    }

    /// Shuts down the sending side of the connection under test.
    #[track_caller]
    pub fn app_shutdown(&mut self) {
        let c = self.conn();
        self.stack.shutdown(c).expect("shutdown");
        self.poll();
    }

    /// Closes the handle of the connection under test.
    pub fn app_close(&mut self) {
        let c = self.conn();
        self.stack.close(c);
        self.poll();
    }

    /// Aborts the connection under test.
    pub fn app_abort(&mut self) {
        let c = self.conn();
        self.stack.abort(c);
        self.poll();
    }

    // ---- reaching each state ----

    /// The peer's SYN with the options of `peer_opts`.
    pub fn syn_repr(&self) -> TcpRepr {
        let o = self.peer_opts;
        TcpRepr {
            seq: self.irs,
            flags: SYN,
            window: o.window,
            mss: o.mss,
            window_scale: o.window_scale,
            sack_permitted: o.sack_permitted,
            timestamps: o.timestamps.then(|| (self.peer_tsval(), 0)),
            ..SEND_TEMPL
        }
    }

    /// The stack listens on [`LOCAL_PORT`] with `backlog`.
    pub fn listen(&mut self, backlog: u32, opts: Option<ConnOptions>) -> ListenerId {
        let l = self
            .stack
            .listen(LOCAL_PORT, backlog, opts)
            .expect("listen");
        self.listener = Some(l);
        l
    }

    /// LISTEN + the peer's SYN: the stack answers with a SYN-ACK, the child is in
    /// SYN-RECEIVED (not accepted yet). Sets `iss`.
    pub fn syn_received(&mut self) -> TcpRepr {
        self.syn_received_with(None)
    }

    pub fn syn_received_with(&mut self, opts: Option<ConnOptions>) -> TcpRepr {
        self.listen(8, opts);
        let syn = self.syn_repr();
        self.send(syn);
        self.ts = self.peer_opts.timestamps;
        let sa = self.expect(|r, p| {
            assert_eq!(r.flags, SYN | ACK, "SYN-ACK");
            assert!(p.is_empty());
        });
        self.iss = sa.seq;
        assert_eq!(sa.ack, self.irs + 1, "SYN-ACK acknowledges the SYN");
        assert_eq!(self.only_state(), State::SynReceived);
        sa
    }

    /// A passive open completed and accepted: ESTABLISHED, `conn` set.
    pub fn established_passive(&mut self) -> ConnId {
        self.established_passive_with(None)
    }

    pub fn established_passive_with(&mut self, opts: Option<ConnOptions>) -> ConnId {
        self.syn_received_with(opts);
        self.send(TcpRepr {
            seq: self.irs + 1,
            ack: self.iss + 1,
            window: self.peer_opts.window,
            ..SEND_TEMPL
        });
        self.expect_nothing();
        let l = self.listener.expect("listener");
        assert_eq!(self.events.pop_front(), Some(Event::Acceptable(l)));
        let c = self.stack.accept(l).expect("accept");
        self.conn = Some(c);
        self.drain();
        assert_eq!(self.state(), State::Established);
        c
    }

    /// CLOSED + connect: the stack's SYN is out, SYN-SENT. Sets `iss`, `local_port`.
    pub fn syn_sent(&mut self) -> TcpRepr {
        self.syn_sent_with(None)
    }

    pub fn syn_sent_with(&mut self, opts: Option<ConnOptions>) -> TcpRepr {
        let c = self
            .stack
            .connect(REMOTE_IP, REMOTE_PORT, opts)
            .expect("connect");
        self.conn = Some(c);
        // The application call acts at the last poll; its SYN leaves on this poll.
        self.poll();
        let syn = self.recv_seg().expect("the stack sends its SYN on connect");
        assert_eq!(syn.repr.flags, SYN, "a SYN");
        assert_eq!(syn.repr.dst_port, REMOTE_PORT);
        self.iss = syn.repr.seq;
        // The harness plays the peer: the stack's port is the local one, the peer's port is
        // the remote one.
        self.local_port = syn.repr.src_port;
        self.remote_port = REMOTE_PORT;
        assert_eq!(self.state(), State::SynSent);
        syn.repr
    }

    /// The peer's SYN-ACK to the stack's SYN.
    pub fn syn_ack_repr(&self, their_syn: &TcpRepr) -> TcpRepr {
        let o = self.peer_opts;
        TcpRepr {
            seq: self.irs,
            ack: self.iss + 1,
            flags: SYN | ACK,
            window: o.window,
            mss: o.mss,
            window_scale: o.window_scale.filter(|_| their_syn.window_scale.is_some()),
            sack_permitted: o.sack_permitted && their_syn.sack_permitted,
            timestamps: (o.timestamps && their_syn.timestamps.is_some())
                .then(|| (self.peer_tsval(), their_syn.timestamps.map_or(0, |t| t.0))),
            ..SEND_TEMPL
        }
    }

    /// An active open completed: SYN, SYN-ACK, the stack's ACK; ESTABLISHED, `Connected`.
    pub fn established_active(&mut self) -> ConnId {
        self.established_active_with(None)
    }

    pub fn established_active_with(&mut self, opts: Option<ConnOptions>) -> ConnId {
        let syn = self.syn_sent_with(opts);
        let sa = self.syn_ack_repr(&syn);
        self.send(sa);
        self.ts = sa.timestamps.is_some();
        self.expect_repr(TcpRepr {
            seq: self.iss + 1,
            ack: self.irs + 1,
            ..RECV_TEMPL
        });
        let c = self.conn();
        assert_eq!(self.events.pop_front(), Some(Event::Connected(c)));
        assert_eq!(self.state(), State::Established);
        c
    }

    /// ESTABLISHED (passive) + the application shuts down writing: our FIN is out, not yet
    /// acknowledged. FIN-WAIT-1.
    pub fn fin_wait_1(&mut self) {
        self.established_passive();
        self.app_shutdown();
        self.expect_repr(TcpRepr {
            seq: self.iss + 1,
            ack: self.irs + 1,
            flags: FIN | ACK,
            ..RECV_TEMPL
        });
        assert_eq!(self.state(), State::FinWait1);
    }

    /// FIN-WAIT-1 + the peer acknowledges our FIN: FIN-WAIT-2.
    pub fn fin_wait_2(&mut self) {
        self.fin_wait_1();
        self.send(TcpRepr {
            seq: self.irs + 1,
            ack: self.iss + 2,
            ..SEND_TEMPL
        });
        self.expect_nothing();
        assert_eq!(self.state(), State::FinWait2);
    }

    /// ESTABLISHED (passive) + the peer's FIN: the stack acknowledges it; CLOSE-WAIT.
    pub fn close_wait(&mut self) {
        self.established_passive();
        self.send(TcpRepr {
            seq: self.irs + 1,
            ack: self.iss + 1,
            flags: FIN | ACK,
            ..SEND_TEMPL
        });
        self.expect_repr(TcpRepr {
            seq: self.iss + 1,
            ack: self.irs + 2,
            ..RECV_AFTER_FIN
        });
        assert_eq!(self.state(), State::CloseWait);
    }

    /// FIN-WAIT-1 + the peer's FIN that does not acknowledge ours (simultaneous close):
    /// CLOSING.
    pub fn closing(&mut self) {
        self.fin_wait_1();
        self.send(TcpRepr {
            seq: self.irs + 1,
            ack: self.iss + 1,
            flags: FIN | ACK,
            ..SEND_TEMPL
        });
        self.expect_repr(TcpRepr {
            seq: self.iss + 2,
            ack: self.irs + 2,
            ..RECV_AFTER_FIN
        });
        assert_eq!(self.state(), State::Closing);
    }

    /// CLOSE-WAIT + the application shuts down: our FIN is out; LAST-ACK.
    pub fn last_ack(&mut self) {
        self.close_wait();
        self.app_shutdown();
        self.expect_repr(TcpRepr {
            seq: self.iss + 1,
            ack: self.irs + 2,
            flags: FIN | ACK,
            ..RECV_AFTER_FIN
        });
        assert_eq!(self.state(), State::LastAck);
    }

    /// FIN-WAIT-2 + the peer's FIN: the stack acknowledges it; TIME-WAIT.
    pub fn time_wait(&mut self) {
        self.fin_wait_2();
        self.send(TcpRepr {
            seq: self.irs + 1,
            ack: self.iss + 2,
            flags: FIN | ACK,
            ..SEND_TEMPL
        });
        self.expect_repr(TcpRepr {
            seq: self.iss + 2,
            ack: self.irs + 2,
            ..RECV_AFTER_FIN
        });
        assert_eq!(self.state(), State::TimeWait);
    }
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}
