//! No storms, nothing lost silently (issue 10): two stacks over a real net_ring pair.
//!
//! - **TX backpressure.** A's device stops taking frames (a TX ring that stays full) while
//!   hundreds of connections have data to send and thousands more are opened: the TX batch
//!   fills to its stop line, TCP throttles its connections instead of the batch dropping
//!   frames, the SYNs of the new connections wait in the room above the line or, once it is
//!   used up, for their turn, and a ping still gets into the batch (control frames are not
//!   starved). When the device takes frames again, every byte arrives intact and every
//!   connection opens: no frame dropped, nothing retransmitted.
//! - **Neighbour queues.** A burst of SYNs to a next hop not yet resolved waits in that
//!   destination's queue for the ARP reply and leaves after it: every connection opens
//!   without a retransmission; beyond the per-destination bound the excess is counted in
//!   `UnresolvedDiscards`, exactly.
//!
//! The clock is fake (stepped, never read) and the runs end well before any RTO could fire:
//! a retransmission here would be a drop, not a timing accident.

use std::cell::Cell;
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::time::Duration;

use engine::buf::{DEFAULT_DATA_ROOM, Mempool, Pkt, PoolSizes, Pools};
use engine::dev::dpdk::{DpdkQueue, Port, PortConfig};
use engine::dev::{Device, DeviceCaps, TxFrames};
use engine::tcp::{ConnId, Event, ListenerId};
use engine::time::Instant;
use engine::wire::MacAddr;
use engine::{Counters, Stack, StackConfig, eal};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const STEP: Duration = Duration::from_micros(5);

/// A real net_ring queue whose transmit can be stopped: while `held`, it takes no frame,
/// as a TX ring that stays full.
struct Gate {
    q: DpdkQueue,
    held: Rc<Cell<bool>>,
}

impl Device for Gate {
    fn caps(&self) -> &DeviceCaps {
        self.q.caps()
    }
    fn rx_burst(&mut self, now: Instant, out: &mut Vec<Pkt>, max: usize) -> usize {
        self.q.rx_burst(now, out, max)
    }
    fn transmit(&mut self, now: Instant, frames: &mut TxFrames<'_>) {
        if !self.held.get() {
            self.q.transmit(now, frames);
        }
    }
}

/// Stacks A (client, behind a gate) and B (server, listening on port 7) over a ring pair.
struct Pair {
    a: Stack<Gate>,
    b: Stack<DpdkQueue>,
    held: Rc<Cell<bool>>,
    listener: ListenerId,
    now: Instant,
    /// B's accepted connections.
    accepted: Vec<ConnId>,
}

fn pair(name: &str) -> Pair {
    let eal = eal::init_for_tests();
    let link = Mempool::create(&format!("{name}l"), 8191, 0, DEFAULT_DATA_ROOM).unwrap();
    let (mut pa, mut pb) = Port::open_ring_pair(eal, &PortConfig::new(link)).unwrap();
    pa.caps.mac = MacAddr([2, 0, 0, 0, 0, 1]);
    pb.caps.mac = MacAddr([2, 0, 0, 0, 0, 2]);
    let sizes = PoolSizes {
        data: 16383,
        hdr: 16383,
        indirect: 16383,
    };
    let pools = Pools::create(name, &sizes).unwrap();
    let held = Rc::new(Cell::new(false));
    let gate = Gate {
        q: pa.queue(0),
        held: held.clone(),
    };
    let mut ca = StackConfig::new(A, 24);
    ca.seed = Some(1);
    let mut cb = StackConfig::new(B, 24);
    cb.seed = Some(2);
    let a = Stack::new(gate, pools, ca);
    let mut b = Stack::new(pb.queue(0), pools, cb);
    let listener = b.listen(7, 4096, None).unwrap();
    Pair {
        a,
        b,
        held,
        listener,
        now: Instant::from_millis(1),
        accepted: Vec::new(),
    }
}

impl Pair {
    /// One poll of each stack; B accepts what is ready and reads everything into `sink`
    /// (per accepted connection). Returns A's events.
    fn poll(&mut self, sink: &mut Vec<Vec<u8>>) -> Vec<Event> {
        self.now += STEP;
        let now = self.now;
        self.a.poll(now);
        let l = self.listener;
        let accepted = &mut self.accepted;
        self.b.poll_with(now, |st, ev| {
            if let Event::Acceptable(_) = ev {
                while let Some(c) = st.accept(l) {
                    accepted.push(c);
                }
            }
        });
        sink.resize(self.accepted.len(), Vec::new());
        let mut buf = [0u8; 4096];
        for (i, &c) in self.accepted.iter().enumerate() {
            while let Ok(n) = self.b.recv(c, &mut buf) {
                if n == 0 {
                    break;
                }
                sink[i].extend_from_slice(&buf[..n]);
            }
        }
        std::iter::from_fn(|| self.a.poll_event()).collect()
    }
}

fn get(c: &Counters, name: &str) -> u64 {
    c.get(name).unwrap_or_else(|| panic!("no counter {name}"))
}

fn pattern(conn: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 13 + conn * 7) % 251) as u8)
        .collect()
}

/// Polls until `n` Connected events came to A, or `polls` polls passed.
fn connect_all(p: &mut Pair, conns: &[ConnId], polls: usize, sink: &mut Vec<Vec<u8>>) -> usize {
    let mut connected = 0;
    for _ in 0..polls {
        connected += p
            .poll(sink)
            .iter()
            .filter(|e| matches!(e, Event::Connected(c) if conns.contains(c)))
            .count();
        if connected == conns.len() {
            break;
        }
    }
    connected
}

#[test]
fn a_full_tx_ring_throttles_connections_and_drops_nothing() {
    const CONNS: usize = 200;
    const BYTES: usize = 16 << 10;
    const LATE: usize = 3500;
    let mut p = pair("txbp");
    let mut sink = Vec::new();
    let conns: Vec<ConnId> = (0..CONNS)
        .map(|_| p.a.connect(B, 7, None).unwrap())
        .collect();
    assert_eq!(connect_all(&mut p, &conns, 20_000, &mut sink), CONNS);

    // The ring stops taking frames; every connection has 16 KiB to send.
    p.held.set(true);
    let data: Vec<Vec<u8>> = (0..CONNS).map(|i| pattern(i, BYTES)).collect();
    for (i, &c) in conns.iter().enumerate() {
        assert_eq!(p.a.send(c, &data[i]).unwrap(), BYTES);
    }
    for _ in 0..200 {
        p.poll(&mut sink);
    }
    let c = p.a.counters();
    assert!(get(&c, "TxThrottled") > 0, "TCP stopped at the line: {c:?}");
    assert_eq!(get(&c, "TxDropped"), 0, "nothing dropped while throttled");
    // New connections while the ring is full: their SYNs take the room above the line, then
    // wait their turn.
    let late: Vec<ConnId> = (0..LATE)
        .map(|_| p.a.connect(B, 7, None).unwrap())
        .collect();
    assert!(p.a.ping(p.now, B, 1, 1, 8), "a ping is still queued");
    for _ in 0..200 {
        p.poll(&mut sink);
    }
    assert_eq!(
        get(&p.a.counters(), "TxDropped"),
        0,
        "still nothing dropped"
    );

    // Room again: everything goes.
    p.held.set(false);
    let opened = connect_all(&mut p, &late, 200_000, &mut sink);
    for _ in 0..200_000 {
        if sink.iter().take(CONNS).map(Vec::len).sum::<usize>() == CONNS * BYTES {
            break;
        }
        p.poll(&mut sink);
    }
    assert_eq!(opened, LATE, "every connection opened late opened");
    assert!(
        p.now < Instant::from_millis(150),
        "done before any RTO could fire ({:?})",
        p.now
    );
    // B accepted in the order the SYNs arrived: the first CONNS are the first connections.
    for (i, got) in sink.iter().take(CONNS).enumerate() {
        assert!(
            got == &data[i],
            "connection {i}: {} bytes intact",
            got.len()
        );
    }
    assert_eq!(p.a.ip().echo_replies.len(), 1, "the ping was answered");
    let (ca, cb) = (p.a.counters(), p.b.counters());
    for (who, c) in [("A", &ca), ("B", &cb)] {
        for bad in [
            "TxDropped",
            "TcpRetransSegs",
            "UnresolvedDiscards",
            "TcpExtTxNoBuf",
        ] {
            assert_eq!(get(c, bad), 0, "{who} {bad}: {c:?}");
        }
    }
}

/// Neighbour queues: `n` SYNs before the ARP reply.
fn syn_burst_before_arp(name: &str, n: usize) -> (usize, Counters) {
    let mut p = pair(name);
    let mut sink = Vec::new();
    let conns: Vec<ConnId> = (0..n).map(|_| p.a.connect(B, 7, None).unwrap()).collect();
    // A sends its ARP request and queues the SYNs; B has not polled yet.
    p.a.poll(p.now);
    assert_eq!(get(&p.a.counters(), "TcpOutSegs"), n as u64);
    let opened = connect_all(&mut p, &conns, 50_000, &mut sink);
    assert!(p.now < Instant::from_millis(500), "before any SYN timeout");
    (opened, p.a.counters())
}

#[test]
fn a_burst_of_syns_waits_for_the_arp_reply() {
    let (opened, c) = syn_burst_before_arp("nbq", 500);
    assert_eq!(opened, 500, "every SYN left after the reply: {c:?}");
    assert_eq!(get(&c, "UnresolvedDiscards"), 0);
    assert_eq!(get(&c, "TcpRetransSegs"), 0);
    assert_eq!(
        get(&c, "ArpOutRequests"),
        2,
        "the announcement and one request"
    );
}

#[test]
fn a_destination_queue_beyond_its_bound_counts_its_discards() {
    let per_dest = engine::ip::NeighborConfig::default().pending_per_dest;
    let (opened, c) = syn_burst_before_arp("nbq2", per_dest + 40);
    assert_eq!(opened, per_dest, "the queued SYNs left: {c:?}");
    assert_eq!(
        get(&c, "UnresolvedDiscards"),
        40,
        "the excess counted: {c:?}"
    );
}

/// A unit that could not go out for want of a header mbuf (the pool dry, decision 11) is not
/// forgotten: nothing of it is in flight, so no ACK or timer would bring it back; it goes out
/// once the pool has mbufs again, long before any RTO. (Before, the connection stalled for
/// good: a request waiting for its answer was never sent.)
#[test]
fn a_unit_refused_for_a_dry_header_pool_goes_out_when_mbufs_return() {
    let mut p = pair("nobuf");
    let mut sink = Vec::new();
    let c = p.a.connect(B, 7, None).unwrap();
    assert_eq!(connect_all(&mut p, &[c], 20_000, &mut sink), 1);
    let hdr = p.a.pools().hdr;
    let mut held = Vec::new();
    while let Some(m) = Pkt::alloc(&hdr) {
        held.push(m);
    }
    let data = pattern(1, 64);
    assert_eq!(p.a.send(c, &data).unwrap(), 64);
    for _ in 0..100 {
        p.poll(&mut sink);
    }
    assert!(
        get(&p.a.counters(), "TcpExtTxNoBuf") > 0,
        "the transmit was refused"
    );
    assert!(sink.iter().all(Vec::is_empty), "nothing could go out yet");
    drop(held);
    for _ in 0..100 {
        p.poll(&mut sink);
        if sink.first().is_some_and(|s| s.len() == data.len()) {
            break;
        }
    }
    assert_eq!(
        sink.first(),
        Some(&data),
        "the request went out once mbufs came back"
    );
    assert_eq!(
        get(&p.a.counters(), "TcpRetransSegs"),
        0,
        "sent, not retransmitted"
    );
}
