//! A harness for the TCP core alone, through its segment boundary (ARCHITECTURE decision 13):
//! no port, no simulated link, no neighbour resolution, no IP header. A [`Core`] is one
//! `engine::tcp::Tcp` with an in-memory [`SegmentSink`] that records what it sends; tests feed
//! it [`Segment`]s and read the [`Sent`] ones back, in virtual time. [`Pair`] joins two cores
//! back to back in memory, with a filter that may drop segments on the way.
//!
//! Payload stays in mbufs from a mempool, as the engine's does (ARCHITECTURE decision 1): a
//! sent segment's payload is copied out for the test to read, and a segment handed to a core
//! carries its payload in a fresh mbuf.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use engine::buf::{Mempool, Pkt, PoolSizes, Pools};
use engine::eal;
use engine::rand::Rng;
use engine::tcp::{
    ConnId, Ecn, Event, FourTuple, LinkCaps, Out, OutSegment, Segment, SegmentSink, Tcp, TcpConfig,
};
use engine::time::Instant;
use engine::wire::{SeqNum, TcpFlags, TcpRepr};

/// The two address families the tests run in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const BOTH: [Family; 2] = [Family::V4, Family::V6];

    /// Host `n`'s address in this family.
    pub fn addr(self, n: u8) -> IpAddr {
        match self {
            Family::V4 => IpAddr::V4(Ipv4Addr::new(10, 0, 0, n)),
            Family::V6 => IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, u16::from(n))),
        }
    }

    /// Our MSS on an Ethernet-sized link: 1500 less the IP and TCP headers.
    pub fn mss(self) -> u16 {
        match self {
            Family::V4 => 1460,
            Family::V6 => 1440,
        }
    }
}

/// A segment the core handed to its sink.
#[derive(Clone, Debug)]
pub struct Sent {
    pub tuple: FourTuple,
    pub repr: TcpRepr,
    pub payload: Vec<u8>,
    pub tso_segsz: Option<u16>,
    /// The ECN field asked of the IP header.
    pub ecn: Ecn,
    pub at: Instant,
}

impl Sent {
    /// Sequence space it occupies.
    pub fn seq_len(&self) -> u32 {
        self.payload.len() as u32
            + u32::from(self.repr.flags.contains(TcpFlags::SYN))
            + u32::from(self.repr.flags.contains(TcpFlags::FIN))
    }
}

/// The in-memory sink: records every segment.
pub struct MemSink {
    pub now: Instant,
    pub sent: Vec<Sent>,
}

impl SegmentSink for MemSink {
    fn send(&mut self, seg: &OutSegment<'_>) -> bool {
        let mut payload = vec![0u8; seg.payload.map_or(0, Pkt::len)];
        if let Some(p) = seg.payload {
            p.copy_out(0, &mut payload);
        }
        self.sent.push(Sent {
            tuple: *seg.tuple,
            repr: *seg.repr,
            payload,
            tso_segsz: seg.tso_segsz,
            ecn: seg.ecn,
            at: self.now,
        });
        true
    }
}

/// One TCP core and its sink.
pub struct Core {
    pub tcp: Tcp,
    pub sink: MemSink,
    pub pools: Pools,
    /// Where test-built payload mbufs come from.
    pub pool: Mempool,
    pub now: Instant,
    pub events: Vec<Event>,
}

/// Start of virtual time.
pub const T0: Instant = Instant::from_millis(1000);

/// Runs `$body` with an `Out` over `$core`'s sink at its current time.
macro_rules! with_out {
    ($core:expr, |$tcp:ident, $out:ident| $body:expr) => {{
        let core: &mut Core = &mut *$core;
        core.sink.now = core.now;
        let $tcp = &mut core.tcp;
        let $out = &mut Out {
            now: core.now,
            sink: &mut core.sink,
        };
        $body
    }};
}

impl Core {
    /// A core named `name` (pool names must be unique per process) with `cfg`.
    pub fn new(name: &str, cfg: TcpConfig, seed: u64) -> Core {
        Core::with_caps(name, cfg, seed, LinkCaps::ethernet())
    }

    /// [`Core::new`] over a layer below that carries `caps` (TSO, say).
    pub fn with_caps(name: &str, cfg: TcpConfig, seed: u64, caps: LinkCaps) -> Core {
        eal::init_for_tests();
        let sizes = PoolSizes {
            data: 2047,
            hdr: 63,
            indirect: 4095,
        };
        let pools = Pools::create(name, &sizes).expect("pools");
        let pool = Mempool::create(&format!("{name}p"), 2047, 0, 2176).expect("pool");
        let mut rng = Rng::new(seed);
        let tcp = Tcp::new(cfg, caps, pools, &mut rng, T0);
        Core {
            tcp,
            sink: MemSink {
                now: T0,
                sent: Vec::new(),
            },
            pools,
            pool,
            now: T0,
            events: Vec::new(),
        }
    }

    /// Hands `seg` (with `payload` in a fresh mbuf) to the core, then runs the end of the poll.
    pub fn deliver(&mut self, src: IpAddr, dst: IpAddr, repr: TcpRepr, payload: &[u8]) {
        self.deliver_ecn(src, dst, Ecn::NotEct, repr, payload);
    }

    /// [`Core::deliver`] in a datagram whose ECN field is `ecn`.
    pub fn deliver_ecn(&mut self, src: IpAddr, dst: IpAddr, ecn: Ecn, repr: TcpRepr, data: &[u8]) {
        let payload =
            (!data.is_empty()).then(|| Pkt::from_slice(&self.pool, data).expect("payload mbuf"));
        let seg = Segment {
            src,
            dst,
            ecn,
            repr,
            payload,
        };
        with_out!(self, |tcp, out| tcp.input(seg, out));
        self.end_of_poll();
    }

    /// What a poll does after input: timers, pending output, events collected.
    pub fn end_of_poll(&mut self) {
        with_out!(self, |tcp, out| {
            tcp.poll_timers(out);
            tcp.flush_pending(out);
        });
        while let Some(e) = self.tcp.poll_event() {
            self.events.push(e);
        }
    }

    /// Moves time to `t`, running every timer at its exact deadline on the way.
    pub fn advance_to(&mut self, t: Instant) {
        while let Some(d) = self.tcp.next_deadline().filter(|&d| d <= t) {
            self.now = self.now.max(d);
            self.end_of_poll();
        }
        self.now = self.now.max(t);
        self.end_of_poll();
    }

    pub fn advance(&mut self, d: Duration) {
        let t = self.now + d;
        self.advance_to(t);
    }

    /// Takes what the core sent so far.
    pub fn take_sent(&mut self) -> Vec<Sent> {
        std::mem::take(&mut self.sink.sent)
    }

    /// Takes exactly one sent segment.
    #[track_caller]
    pub fn one(&mut self) -> Sent {
        let mut s = self.take_sent();
        assert_eq!(s.len(), 1, "expected one segment, got {s:#?}");
        s.remove(0)
    }

    /// Fails if the core sent anything.
    #[track_caller]
    pub fn expect_nothing(&mut self) {
        let s = self.take_sent();
        assert!(s.is_empty(), "expected nothing, got {s:#?}");
    }

    /// Takes the events posted so far.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    pub fn listen(&mut self, port: u16) -> engine::tcp::ListenerId {
        self.tcp.listen(port, 64, None).expect("listen")
    }

    pub fn connect(&mut self, local: IpAddr, remote: (IpAddr, u16)) -> ConnId {
        self.connect_with(local, remote, None)
    }

    /// [`Core::connect`] with `opts` instead of the configured defaults.
    pub fn connect_with(
        &mut self,
        local: IpAddr,
        remote: (IpAddr, u16),
        opts: Option<engine::tcp::ConnOptions>,
    ) -> ConnId {
        let c = with_out!(self, |tcp, out| tcp.connect(local, remote, opts, out)).expect("connect");
        self.end_of_poll();
        c
    }

    /// Queues as much of `data` as the send buffer takes; returns the bytes taken.
    pub fn send(&mut self, c: ConnId, data: &[u8]) -> usize {
        let n = with_out!(self, |tcp, out| tcp.send(c, data, out)).unwrap_or(0);
        self.end_of_poll();
        n
    }

    /// Reads everything readable.
    pub fn read(&mut self, c: ConnId) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = self.tcp.recv(c, &mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        self.end_of_poll();
        out
    }

    pub fn shutdown(&mut self, c: ConnId) {
        with_out!(self, |tcp, out| tcp.shutdown(c, out)).expect("shutdown");
        self.end_of_poll();
    }

    pub fn close(&mut self, c: ConnId) {
        with_out!(self, |tcp, out| tcp.close(c, out));
        self.end_of_poll();
    }

    pub fn abort(&mut self, c: ConnId) {
        with_out!(self, |tcp, out| tcp.abort(c, out));
        self.end_of_poll();
    }
}

/// A peer's segment template: a bare ACK with a 64 KiB window and no options.
pub const PEER_TEMPL: TcpRepr = TcpRepr {
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
    sack: engine::wire::SackBlocks::new(),
    timestamps: None,
};

/// Two cores back to back in memory: A at host 1, B at host 2.
pub struct Pair {
    pub a: Core,
    pub b: Core,
    pub family: Family,
    /// Segments dropped so far by the filter.
    pub dropped: usize,
    /// One-way delay.
    pub delay: Duration,
}

impl Pair {
    pub fn new(name: &str, family: Family) -> Pair {
        Pair::with(name, family, TcpConfig::default(), TcpConfig::default())
    }

    /// [`Pair::new`] with A configured by `a` and B by `b`.
    pub fn with(name: &str, family: Family, a: TcpConfig, b: TcpConfig) -> Pair {
        Pair {
            a: Core::new(&format!("{name}a"), a, 1),
            b: Core::new(&format!("{name}b"), b, 2),
            family,
            dropped: 0,
            delay: Duration::from_micros(100),
        }
    }

    /// Moves segments both ways until neither core has anything in flight or due within
    /// `horizon`, dropping those `drop` says to (given the sender, 'a' or 'b', and the segment).
    pub fn run(&mut self, horizon: Duration, drop: impl FnMut(char, &Sent) -> bool) {
        self.run_marking(horizon, drop, |_, _| false);
    }

    /// [`Pair::run`] through a router that marks CE (RFC 3168 §5) on the ECN-capable
    /// segments `mark` says to; the others arrive with the ECN field they were sent with.
    pub fn run_marking(
        &mut self,
        horizon: Duration,
        mut drop: impl FnMut(char, &Sent) -> bool,
        mut mark: impl FnMut(char, &Sent) -> bool,
    ) {
        let end = self.a.now.max(self.b.now) + horizon;
        let mut wire: Vec<(Instant, char, Sent)> = Vec::new();
        loop {
            for (side, core) in [('a', &mut self.a), ('b', &mut self.b)] {
                for s in core.take_sent() {
                    if drop(side, &s) {
                        self.dropped += 1;
                    } else {
                        let mut s = s;
                        if s.ecn != Ecn::NotEct && mark(side, &s) {
                            s.ecn = Ecn::Ce;
                        }
                        wire.push((s.at + self.delay, side, s));
                    }
                }
            }
            let next_wire = wire.iter().map(|w| w.0).min();
            let next_timer = [self.a.tcp.next_deadline(), self.b.tcp.next_deadline()]
                .into_iter()
                .flatten()
                .min();
            let Some(t) = [next_wire, next_timer].into_iter().flatten().min() else {
                break;
            };
            if t > end {
                break;
            }
            self.a.now = self.a.now.max(t);
            self.b.now = self.b.now.max(t);
            wire.sort_by_key(|w| w.0);
            let due: Vec<_> = {
                let n = wire.iter().take_while(|w| w.0 <= t).count();
                wire.drain(..n).collect()
            };
            for (_, from, s) in due {
                let to = if from == 'a' {
                    &mut self.b
                } else {
                    &mut self.a
                };
                let (src, dst) = (s.tuple.local_ip, s.tuple.remote_ip);
                to.deliver_ecn(src, dst, s.ecn, s.repr, &s.payload);
            }
            self.a.end_of_poll();
            self.b.end_of_poll();
        }
    }
}
