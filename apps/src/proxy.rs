//! An L4 TCP proxy on the engine: listen on one port, connect each accepted client to the
//! upstream server, and forward the bytes both ways by moving the received mbufs from one
//! connection's receive queue into the other's send queue (`recv_pkt` → `send_pkt`): payload
//! is never copied, only referenced.
//!
//! The two sides may live on one [`Stack`] or on two (one per DPDK port, polled by the same
//! thread: an mbuf received on one stack is queued on the other as it is; it returns to the
//! pool it came from when the upstream peer has acknowledged it).
//!
//! # One connection pair (a *pipe*)
//!
//! ```text
//!  accept(client) ──connect(upstream)──▶ CONNECTING ──Connected──▶ OPEN ──both flows shut──▶ close both
//!                                            │                      │
//!                                            └──── an error on either side (reset, refused,
//!                                                  timeout, send/recv error) ──▶ abort both
//! ```
//!
//! An OPEN pipe has two *flows*, client→upstream and upstream→client, each run by
//! [`Proxy`]'s `pump`: send what it holds; gather everything readable from the source into one
//! chain (at most [`ProxyConfig::gather`] bytes or [`GATHER_SEGS`] mbufs, so bulk data leaves as
//! full TSO frames); hand that chain to the destination. When the destination's send buffer is
//! full (`WouldBlock`) the flow keeps the chain and stops reading its source until the
//! destination reports `Writable`; the source's receive window then closes, which is the
//! backpressure the sender sees. Nothing is dropped or copied. End of file on the source
//! (`recv_pkt` → `Ok(None)`), once everything held has been queued, becomes `shutdown` of the
//! destination: half-close passes through. When both flows are shut, both handles are closed
//! (the engine finishes delivering what is queued). Before the upstream connection is
//! established nothing is read from the client: its data waits in the engine's receive queue.
//!
//! # Memory
//!
//! Zero copy means a received mbuf stays in use until the *other* side's peer acknowledges
//! it, and the receiving port's pool also has to hold the next frames, ACKs included: if the
//! pool runs dry no ACK gets in, nothing is freed, and every connection stalls. So the number
//! of pipes is bounded by the pool: a flow holds at most the source's receive buffer, one
//! gathered chain (plus one that did not fit in it) and the destination's send buffer, and
//! [`ProxyConfig::pipes_for_pool`] gives how many pipes a pool holds at full buffers; clients
//! beyond `max_conns` are reset. Per-pipe state lives in a slab preallocated for `max_conns`
//! pipes, found from a connection handle through a map reserved up front: nothing is allocated
//! per packet or per connection.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::SocketAddr;

use engine::Stack;
use engine::buf::Pkt;
use engine::dev::Device;
use engine::tcp::{ConnId, ConnOptions, Event, ListenerId, TcpError};
use engine::time::Instant;

pub use crate::servers::GATHER_SEGS;

/// The end of a pipe a connection is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The connection the proxy accepted.
    Client = 0,
    /// The connection the proxy opened to the upstream server.
    Upstream = 1,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::Client => Side::Upstream,
            Side::Upstream => Side::Client,
        }
    }
}

/// The stacks the proxy runs on, for one event: one stack for both sides, or one per side.
pub struct Stacks<'a, D: Device> {
    pub client: &'a mut Stack<D>,
    /// `None`: the upstream side is on the client's stack.
    pub upstream: Option<&'a mut Stack<D>>,
}

impl<D: Device> Stacks<'_, D> {
    /// The stack of `side`.
    pub fn get(&mut self, side: Side) -> &mut Stack<D> {
        match (side, self.upstream.as_deref_mut()) {
            (Side::Upstream, Some(u)) => u,
            _ => self.client,
        }
    }

    /// Which stack (0 or 1) `side` is on; connection handles are unique per stack.
    fn index(&self, side: Side) -> u8 {
        if self.upstream.is_some() {
            side as u8
        } else {
            0
        }
    }
}

/// How the proxy is set up.
#[derive(Clone, Copy, Debug)]
pub struct ProxyConfig {
    /// TCP port to listen on (on the client stack).
    pub listen: u16,
    /// The server every client is connected to.
    pub upstream: SocketAddr,
    /// Most pipes open at once; further clients are reset (counted as `ProxyErrNoSlot`).
    pub max_conns: usize,
    /// Options of both connections of a pipe (`sndbuf` and `rcvbuf` size its memory).
    pub opts: ConnOptions,
    /// A flow gathers at most this many bytes before handing them on.
    pub gather: usize,
}

/// Mbufs a port's receive ring keeps filled from its pool (`PortConfig::new`'s `rx_desc`).
pub const RX_RING_MBUFS: usize = 1024;

/// Payload bytes an mbuf is assumed to carry when sizing pools: less than a full segment
/// (1448 B at MTU 1500), for the partial ones.
pub const BYTES_PER_MBUF: usize = 1024;

/// DPDK memory one payload mbuf costs with its share of the header and indirect pools (the
/// proxy's pools: a header mbuf per four, an indirect one each). The elements alone take about
/// 2.8 KiB (2,368 + 832 / 4 + 192 B), but with ordinary pages (`--no-huge`) pools are laid out
/// in page-aligned chunks and a 1024 MiB EAL held no more than about 200,000 such mbufs
/// (measured: 250,000 failed); 5 KiB keeps a margin.
pub const MEMORY_PER_MBUF: usize = 5 * 1024;

/// DPDK memory kept out of the pools: descriptor rings, the ports' own allocations, the heap.
pub const RESERVED_MEMORY_MB: usize = 128;

/// Payload mbufs per stack when `memory_mb` of DPDK memory is shared by `stacks` pool sets.
pub fn mbufs_for_memory(memory_mb: u32, stacks: usize) -> u32 {
    let bytes = (memory_mb as usize).saturating_sub(RESERVED_MEMORY_MB) << 20;
    (bytes / MEMORY_PER_MBUF / stacks.max(1)).min(u32::MAX as usize) as u32
}

impl ProxyConfig {
    /// A configuration with send and receive buffers of `buf` bytes on both sides, and a
    /// gather size of a quarter of that (at most 64 KiB, one TSO frame): a held chain then
    /// always fits once the destination reports `Writable` (a quarter of its buffer free).
    pub fn new(listen: u16, upstream: SocketAddr, max_conns: usize, buf: u32) -> ProxyConfig {
        let buf = buf.max(4096);
        ProxyConfig {
            listen,
            upstream,
            max_conns: max_conns.max(1),
            opts: ConnOptions {
                sndbuf: buf,
                rcvbuf: buf,
                ..ConnOptions::default()
            },
            gather: (buf as usize / 4).min(64 * 1024),
        }
    }

    /// Mbufs one flow may hold in its source's pool at full buffers: the source's receive
    /// buffer, the gathered chain (plus one more segment) and the destination's send buffer.
    pub fn mbufs_per_flow(&self) -> usize {
        let bytes = self.opts.rcvbuf as usize + self.gather + 65536 + self.opts.sndbuf as usize;
        bytes.div_ceil(BYTES_PER_MBUF)
    }

    /// How many pipes a pool of `mbufs` holds at full buffers, after the port's receive ring
    /// ([`RX_RING_MBUFS`]) and leaving a quarter free for frames on their way in (ACKs among
    /// them). With one stack both flows of a pipe draw on its pool; with two, each stack's
    /// pool holds one flow per pipe.
    pub fn pipes_for_pool(&self, mbufs: u32, stacks: usize) -> usize {
        let flows_per_pool = if stacks >= 2 { 1 } else { 2 };
        let usable = (mbufs as usize).saturating_sub(RX_RING_MBUFS) * 3 / 4;
        (usable / (self.mbufs_per_flow() * flows_per_pool)).max(1)
    }
}

/// What the proxy counted, printed as `Name value` lines by [`ProxyStats::entries`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyStats {
    pub accepted: u64,
    pub connected: u64,
    /// Pipes that ended with both flows shut (graceful).
    pub completed: u64,
    /// Pipes open now.
    pub active: u64,
    /// Payload bytes queued toward the upstream / toward the client.
    pub bytes_to_upstream: u64,
    pub bytes_to_client: u64,
    /// Received mbufs handed on, by direction (each payload mbuf once: no copies).
    pub mbufs_to_upstream: u64,
    pub mbufs_to_client: u64,
    /// Shutdowns passed through (end of file on one side → FIN on the other).
    pub half_closes: u64,
    /// Pipes that ended in an error, by its kind.
    pub err_refused: u64,
    pub err_reset: u64,
    pub err_timed_out: u64,
    pub err_no_slot: u64,
    pub err_other: u64,
    /// Times a flow kept a chain because the destination's send buffer was full
    /// (backpressure: it stops reading its source until `Writable`).
    pub blocked: u64,
    /// Sends that found no mbuf for a clone and were retried on a later poll.
    pub nobuf_retries: u64,
}

impl ProxyStats {
    /// Pipes that ended in an error (every kind).
    pub fn errors(&self) -> u64 {
        self.err_refused + self.err_reset + self.err_timed_out + self.err_no_slot + self.err_other
    }

    /// Every statistic as (name, value).
    pub fn entries(&self) -> [(&'static str, u64); 17] {
        [
            ("ProxyAccepted", self.accepted),
            ("ProxyUpstreamConnected", self.connected),
            ("ProxyCompleted", self.completed),
            ("ProxyActive", self.active),
            ("ProxyBytesToUpstream", self.bytes_to_upstream),
            ("ProxyBytesToClient", self.bytes_to_client),
            ("ProxyMbufsToUpstream", self.mbufs_to_upstream),
            ("ProxyMbufsToClient", self.mbufs_to_client),
            ("ProxyHalfCloses", self.half_closes),
            ("ProxyErrors", self.errors()),
            ("ProxyErrRefused", self.err_refused),
            ("ProxyErrReset", self.err_reset),
            ("ProxyErrTimedOut", self.err_timed_out),
            ("ProxyErrNoSlot", self.err_no_slot),
            ("ProxyErrOther", self.err_other),
            ("ProxyBlocked", self.blocked),
            ("ProxyNoBufRetries", self.nobuf_retries),
        ]
    }

    /// Adds another core's statistics.
    pub fn add(&mut self, o: &ProxyStats) {
        self.accepted += o.accepted;
        self.connected += o.connected;
        self.completed += o.completed;
        self.active += o.active;
        self.bytes_to_upstream += o.bytes_to_upstream;
        self.bytes_to_client += o.bytes_to_client;
        self.mbufs_to_upstream += o.mbufs_to_upstream;
        self.mbufs_to_client += o.mbufs_to_client;
        self.half_closes += o.half_closes;
        self.err_refused += o.err_refused;
        self.err_reset += o.err_reset;
        self.err_timed_out += o.err_timed_out;
        self.err_no_slot += o.err_no_slot;
        self.err_other += o.err_other;
        self.blocked += o.blocked;
        self.nobuf_retries += o.nobuf_retries;
    }

    fn count_error(&mut self, e: TcpError) {
        match e {
            TcpError::Refused => self.err_refused += 1,
            TcpError::Reset => self.err_reset += 1,
            TcpError::TimedOut => self.err_timed_out += 1,
            TcpError::TableFull => self.err_no_slot += 1,
            _ => self.err_other += 1,
        }
    }
}

/// One direction of a pipe, named after its source side.
#[derive(Default)]
struct Flow {
    /// A gathered chain the destination has not taken yet.
    held: Option<Pkt>,
    /// A received chain that could not be chained onto `held` (segment limit); sent after it.
    spill: Option<Pkt>,
    /// The source reached end of file.
    eof: bool,
    /// The destination was shut down (this flow is finished).
    shut: bool,
    /// Waiting for the next poll to retry a send that found no mbuf.
    retry: bool,
}

/// A client connection and its upstream connection.
struct Pipe {
    /// Indexed by [`Side`].
    ids: [ConnId; 2],
    /// The upstream connection is established.
    open: bool,
    /// Indexed by the source [`Side`].
    flows: [Flow; 2],
}

/// A fast hasher for connection handles (two small integers): no per-event SipHash.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        bytes.iter().for_each(|&b| self.write_u32(u32::from(b)));
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0.rotate_left(26) ^ u64::from(n)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// (stack index, handle) → (pipe slot, side).
type IdMap = HashMap<(u8, ConnId), (u32, Side), BuildHasherDefault<IdHasher>>;

/// The proxy: a listener, the pipes, and their statistics.
pub struct Proxy {
    cfg: ProxyConfig,
    listener: ListenerId,
    pipes: Vec<Option<Pipe>>,
    free: Vec<u32>,
    ids: IdMap,
    /// Flows to pump again on the next poll (a send found no mbuf: no event will come).
    retry: Vec<(u32, Side)>,
    pub stats: ProxyStats,
}

impl Proxy {
    /// Listens on `cfg.listen` of the client stack (backlog 4096).
    pub fn new<D: Device>(client: &mut Stack<D>, cfg: ProxyConfig) -> Result<Proxy, TcpError> {
        let listener = client.listen(cfg.listen, 4096, Some(cfg.opts))?;
        let n = cfg.max_conns.max(1);
        let mut ids = IdMap::default();
        ids.reserve(2 * n);
        Ok(Proxy {
            cfg,
            listener,
            pipes: (0..n).map(|_| None).collect(),
            free: (0..n as u32).rev().collect(),
            ids,
            retry: Vec::with_capacity(2 * n),
            stats: ProxyStats::default(),
        })
    }

    /// One loop iteration with both sides on `stack`. Returns the frames received.
    pub fn poll_one<D: Device>(&mut self, now: Instant, stack: &mut Stack<D>) -> usize {
        let n = stack.poll_with(now, |s, ev| {
            let mut st = Stacks {
                client: s,
                upstream: None,
            };
            self.on_event(&mut st, 0, ev);
        });
        self.retry_flows(&mut Stacks {
            client: stack,
            upstream: None,
        });
        n
    }

    /// One loop iteration with the client side on `client` and the upstream side on
    /// `upstream`. Returns the frames received.
    pub fn poll_two<D: Device>(
        &mut self,
        now: Instant,
        client: &mut Stack<D>,
        upstream: &mut Stack<D>,
    ) -> usize {
        let mut n = client.poll_with(now, |c, ev| {
            let mut st = Stacks {
                client: c,
                upstream: Some(&mut *upstream),
            };
            self.on_event(&mut st, 0, ev);
        });
        n += upstream.poll_with(now, |u, ev| {
            let mut st = Stacks {
                client: &mut *client,
                upstream: Some(u),
            };
            self.on_event(&mut st, 1, ev);
        });
        self.retry_flows(&mut Stacks {
            client,
            upstream: Some(upstream),
        });
        n
    }

    /// One line per open pipe (at most `max`): each flow's state and both connections' TCP
    /// state, for diagnosing a stalled pipe.
    pub fn describe_open<D: Device>(&self, st: &mut Stacks<D>, max: usize) -> Vec<String> {
        let flow = |f: &Flow| {
            let len = |p: &Option<Pkt>| p.as_ref().map_or(0, Pkt::len);
            let (h, s) = (len(&f.held), len(&f.spill));
            format!(
                "held {h} spill {s} eof {} shut {} retry {}",
                f.eof, f.shut, f.retry
            )
        };
        let conn = |s: &mut Stack<D>, c: ConnId| match s.info(c) {
            Some(i) => format!(
                "{:?} {:?} una {} nxt {} wnd {} cwnd {} unsent {} unacked {} readable {} \
                 rcv_wnd {} rto {:?} rtx {}",
                i.remote,
                i.state,
                i.snd_una,
                i.snd_nxt,
                i.snd_wnd,
                i.cwnd,
                i.unsent_bytes,
                i.unacked_bytes,
                i.readable_bytes,
                i.rcv_wnd,
                i.rto,
                i.retransmits
            ),
            None => "gone".into(),
        };
        let open = self
            .pipes
            .iter()
            .enumerate()
            .filter_map(|(i, p)| Some((i, p.as_ref()?)));
        open.take(max)
            .map(|(slot, p)| {
                let (c, u) = (st.get(Side::Client), p.ids[0]);
                let client = conn(c, u);
                let upstream = conn(st.get(Side::Upstream), p.ids[1]);
                let (c2u, u2c) = (flow(&p.flows[0]), flow(&p.flows[1]));
                format!(
                    "pipe {slot}: open {} | client {client} | upstream {upstream} | c2u {c2u} | \
                     u2c {u2c}",
                    p.open
                )
            })
            .collect()
    }

    /// Handles one event of stack `from` (0: the client stack, 1: the upstream stack).
    pub fn on_event<D: Device>(&mut self, st: &mut Stacks<D>, from: u8, ev: Event) {
        match ev {
            Event::Acceptable(l) if from == st.index(Side::Client) && l == self.listener => {
                self.accept_all(st);
            }
            Event::Connected(c) => {
                if let Some((slot, Side::Upstream)) = self.lookup(from, c) {
                    if let Some(p) = self.pipes[slot as usize].as_mut() {
                        p.open = true;
                    }
                    self.stats.connected += 1;
                    self.pump_both(st, slot);
                }
            }
            // Data (or end of file, or a pending error) on `side`: run the flow from it.
            Event::Readable(c) => {
                if let Some((slot, side)) = self.lookup(from, c) {
                    self.pump_and_check(st, slot, side);
                }
            }
            // Room on `side`: run the flow into it.
            Event::Writable(c) => {
                if let Some((slot, side)) = self.lookup(from, c) {
                    self.pump_and_check(st, slot, side.other());
                }
            }
            Event::Closed(c, Some(e)) => {
                if let Some((slot, _)) = self.lookup(from, c) {
                    self.fail(st, slot, e);
                }
            }
            // Both directions of this connection finished gracefully; what it received may
            // still be waiting to be forwarded.
            Event::Closed(c, None) => {
                if let Some((slot, _)) = self.lookup(from, c) {
                    self.pump_both(st, slot);
                }
            }
            _ => {}
        }
    }

    fn lookup(&self, from: u8, c: ConnId) -> Option<(u32, Side)> {
        self.ids.get(&(from, c)).copied()
    }

    /// Accepts every waiting client and connects each to the upstream.
    fn accept_all<D: Device>(&mut self, st: &mut Stacks<D>) {
        while let Some(c) = st.get(Side::Client).accept(self.listener) {
            self.stats.accepted += 1;
            let Some(slot) = self.free.pop() else {
                st.get(Side::Client).abort(c);
                self.stats.count_error(TcpError::TableFull);
                continue;
            };
            let up = self.cfg.upstream;
            let u = match st
                .get(Side::Upstream)
                .connect(up.ip(), up.port(), Some(self.cfg.opts))
            {
                Ok(u) => u,
                Err(e) => {
                    st.get(Side::Client).abort(c);
                    self.free.push(slot);
                    self.stats.count_error(e);
                    continue;
                }
            };
            self.pipes[slot as usize] = Some(Pipe {
                ids: [c, u],
                open: false,
                flows: Default::default(),
            });
            self.ids
                .insert((st.index(Side::Client), c), (slot, Side::Client));
            self.ids
                .insert((st.index(Side::Upstream), u), (slot, Side::Upstream));
            self.stats.active += 1;
        }
    }

    fn pump_both<D: Device>(&mut self, st: &mut Stacks<D>, slot: u32) {
        self.pump_and_check(st, slot, Side::Client);
        self.pump_and_check(st, slot, Side::Upstream);
    }

    /// Runs the flow from `src`, then ends the pipe if it failed or both flows are shut.
    fn pump_and_check<D: Device>(&mut self, st: &mut Stacks<D>, slot: u32, src: Side) {
        let Some(pipe) = self.pipes[slot as usize].as_mut() else {
            return;
        };
        match pump(st, pipe, src, self.cfg.gather, &mut self.stats) {
            Err(e) => self.fail(st, slot, e),
            Ok(Pumped::Retry) => self.retry.push((slot, src)),
            Ok(Pumped::Ok) => {
                if pipe.flows.iter().all(|f| f.shut) {
                    self.finish(st, slot, false);
                }
            }
        }
    }

    /// Pumps the flows whose sends found no mbuf on the previous pass (a flow is listed at
    /// most once: its `retry` flag is set while it waits).
    fn retry_flows<D: Device>(&mut self, st: &mut Stacks<D>) {
        let n = self.retry.len();
        for k in 0..n {
            let (slot, src) = self.retry[k];
            if let Some(p) = self.pipes[slot as usize].as_mut() {
                p.flows[src as usize].retry = false;
                self.stats.nobuf_retries += 1;
                self.pump_and_check(st, slot, src);
            }
        }
        self.retry.drain(..n);
    }

    /// Ends a pipe after error `e`: resets both connections (one of them is already over).
    fn fail<D: Device>(&mut self, st: &mut Stacks<D>, slot: u32, e: TcpError) {
        self.stats.count_error(e);
        self.finish(st, slot, true);
    }

    /// Releases both connections of a pipe (abort: reset them) and frees its slot.
    fn finish<D: Device>(&mut self, st: &mut Stacks<D>, slot: u32, abort: bool) {
        let Some(pipe) = self.pipes[slot as usize].take() else {
            return;
        };
        for side in [Side::Client, Side::Upstream] {
            let id = pipe.ids[side as usize];
            self.ids.remove(&(st.index(side), id));
            if abort {
                st.get(side).abort(id);
            } else {
                st.get(side).close(id);
            }
        }
        if !abort {
            self.stats.completed += 1;
        }
        self.stats.active -= 1;
        self.free.push(slot);
        // The flows' held chains drop here: their mbufs go back to their pools.
    }
}

/// What a pump left to do.
enum Pumped {
    /// Nothing until the next event.
    Ok,
    /// A send found no mbuf: pump again on the next poll.
    Retry,
}

/// Runs the flow from `src` as far as it can go now: send what is held, gather what is
/// readable, send it, until the source has nothing or the destination is full; then pass an
/// end of file on. An error means the pipe is over.
fn pump<D: Device>(
    st: &mut Stacks<D>,
    pipe: &mut Pipe,
    src: Side,
    limit: usize,
    stats: &mut ProxyStats,
) -> Result<Pumped, TcpError> {
    let dst = src.other();
    let (sid, did) = (pipe.ids[src as usize], pipe.ids[dst as usize]);
    let f = &mut pipe.flows[src as usize];
    if !pipe.open || f.shut || f.retry {
        return Ok(Pumped::Ok);
    }
    loop {
        if f.held.is_none() {
            f.held = f.spill.take();
        }
        if let Some(p) = f.held.take() {
            let (len, segs) = (p.len() as u64, p.nb_segs() as u64);
            match st.get(dst).send_pkt(did, p) {
                Ok(()) => {
                    let (b, m) = match dst {
                        Side::Upstream => {
                            (&mut stats.bytes_to_upstream, &mut stats.mbufs_to_upstream)
                        }
                        Side::Client => (&mut stats.bytes_to_client, &mut stats.mbufs_to_client),
                    };
                    (*b, *m) = (*b + len, *m + segs);
                }
                // Full: keep the chain and stop reading until `Writable`.
                Err((TcpError::WouldBlock, p)) => {
                    f.held = Some(p);
                    stats.blocked += 1;
                    return Ok(Pumped::Ok);
                }
                Err((TcpError::NoBufs, p)) => {
                    f.held = Some(p);
                    f.retry = true;
                    return Ok(Pumped::Retry);
                }
                Err((e, _)) => return Err(e),
            }
            continue;
        }
        if f.eof {
            break;
        }
        gather(st.get(src), sid, f, limit)?;
        if f.held.is_none() {
            break;
        }
    }
    if f.eof {
        st.get(dst).shutdown(did)?;
        f.shut = true;
        stats.half_closes += 1;
    }
    Ok(Pumped::Ok)
}

/// Takes everything readable on `c` (up to `limit` bytes or [`GATHER_SEGS`] mbufs) into one
/// chain in `f.held`, without copying; notes end of file.
fn gather<D: Device>(
    s: &mut Stack<D>,
    c: ConnId,
    f: &mut Flow,
    limit: usize,
) -> Result<(), TcpError> {
    while f.spill.is_none()
        && f.held
            .as_ref()
            .is_none_or(|h| h.len() < limit && h.nb_segs() < GATHER_SEGS)
    {
        match s.recv_pkt(c) {
            Ok(Some(p)) => match f.held.as_mut() {
                None => f.held = Some(p),
                Some(h) => {
                    if let Err(p) = h.chain(p) {
                        f.spill = Some(p);
                    }
                }
            },
            Ok(None) => {
                f.eof = true;
                break;
            }
            Err(TcpError::WouldBlock) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
