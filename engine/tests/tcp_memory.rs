//! Memory held per idle ESTABLISHED connection: the per-core tables (slab entry, flow entry,
//! timer node, event room) and queue storage, which an idle connection does not hold (lent on
//! first use, given back when empty: `tcp::spare`). Computed from the real sizes, and measured
//! on the heap with thousands of real connections over a DPDK net_ring pair.

mod counting;

use std::net::Ipv4Addr;
use std::time::Duration;

use engine::buf::{DEFAULT_DATA_ROOM, Mempool, PoolSizes, Pools};
use engine::dev::dpdk::{Port, PortConfig};
use engine::eal;
use engine::tcp::Event;
use engine::tcp::layer::memory_per_connection;
use engine::time::Instant;
use engine::wire::MacAddr;
use engine::{Stack, StackConfig};

#[test]
fn idle_connection_cost_counts_tables_and_no_queue_arrays() {
    let r = memory_per_connection();
    eprintln!("{r:#?}");
    let parts = r.slab_entry + r.flow_entry + r.timer_node + r.event_room + r.queue_arrays;
    assert_eq!(r.total, parts, "the total is the sum of its parts");
    assert_eq!(
        r.queue_arrays, 0,
        "an idle connection holds no queue storage"
    );
    assert!(r.busy_queue_arrays > 0, "{r:#?}");
    // Where the scale work stands (the TCB is most of it); it may only shrink. The issue's
    // goal is 1 KiB: see README "Memory" for what is left.
    assert!(r.total <= 1024, "{r:#?}");
    // The whole stack adds the IP layer's header template (an IPv4 connection's). Issue 10
    // asks for 1 KiB with everything included.
    let all = engine::stack::memory_per_connection();
    eprintln!("{all:#?}");
    assert_eq!(all.total, r.total + all.ip_template);
    assert!(all.total <= 1024, "{all:#?}");
}

const IP_A: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
const IP_B: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
const PORT: u16 = 7;
/// Connections opened (both ends live in this process: 2 × CONNS connection ends).
const CONNS: usize = 3000;

fn stacks() -> (
    Stack<engine::dev::dpdk::DpdkQueue>,
    Stack<engine::dev::dpdk::DpdkQueue>,
) {
    let eal = eal::init_for_tests();
    let link = Mempool::create("mml", 8191, 0, DEFAULT_DATA_ROOM).expect("link pool");
    let (mut pa, mut pb) = Port::open_ring_pair(eal, &PortConfig::new(link)).expect("ring pair");
    pa.caps.mac = MacAddr([2, 0, 0, 0, 1, 0xa]);
    pb.caps.mac = MacAddr([2, 0, 0, 0, 1, 0xb]);
    let pools = |p: &str| {
        // Small writes (the 64 B requests and echoes) are copied into header mbufs: room for
        // every connection's one in flight, and the frames' headers besides.
        let sizes = PoolSizes {
            data: 8191,
            hdr: 8191,
            indirect: 4095,
        };
        Pools::create(p, &sizes).expect("pools")
    };
    let config = |ip| {
        let mut cfg = StackConfig::new(ip, 24);
        // A bound, not a reservation: a million costs nothing until they exist.
        cfg.tcp.max_connections = 1_000_000;
        cfg.tcp.ephemeral_ports = 10_000..=60_000;
        cfg
    };
    (
        Stack::new(pa.queue(0), pools("mma"), config(IP_A)),
        Stack::new(pb.queue(0), pools("mmb"), config(IP_B)),
    )
}

/// Opens `n` connections from `a` to `b`, each carrying one 64 B request and its echo, and
/// returns when all are idle again (everything read and acknowledged).
fn open_idle(
    a: &mut Stack<engine::dev::dpdk::DpdkQueue>,
    b: &mut Stack<engine::dev::dpdk::DpdkQueue>,
    now: &mut Instant,
    n: usize,
) {
    let mut buf = [0u8; 64];
    let mut echoed = 0;
    let mut opened = 0;
    for _ in 0..200_000 {
        // A few handshakes per poll (bounded, so no queue on the way overflows).
        for _ in 0..(n - opened).min(32) {
            a.connect(IP_B, PORT, None).expect("connect");
            opened += 1;
        }
        *now += Duration::from_micros(20);
        a.poll(*now);
        b.poll(*now);
        while let Some(ev) = b.poll_event() {
            match ev {
                Event::Acceptable(l) => while b.accept(l).is_some() {},
                Event::Readable(s) => {
                    while let Ok(k @ 1..) = b.recv(s, &mut buf) {
                        assert_eq!(b.send(s, &buf[..k]), Ok(k));
                    }
                }
                _ => {}
            }
        }
        while let Some(ev) = a.poll_event() {
            match ev {
                Event::Connected(x) => assert_eq!(a.send(x, &[7u8; 64]), Ok(64)),
                Event::Readable(x) => {
                    while let Ok(k @ 1..) = a.recv(x, &mut buf) {
                        echoed += k;
                    }
                }
                _ => {}
            }
        }
        if echoed == 64 * n && !a.tcp().has_pending() && !b.tcp().has_pending() {
            // A few more polls for the last ACKs.
            for _ in 0..10 {
                *now += Duration::from_micros(20);
                a.poll(*now);
                b.poll(*now);
            }
            return;
        }
    }
    panic!("{echoed} of {} bytes echoed", 64 * n);
}

#[test]
fn thousands_of_idle_connections_cost_their_tables_on_the_heap() {
    let (mut a, mut b) = stacks();
    b.listen(PORT, 4096, None).expect("listen");
    let mut now = Instant::ZERO;
    // Warm up: the per-core spare pools and the first table reservations.
    open_idle(&mut a, &mut b, &mut now, 100);
    let grown = counting::heap_growth(|| open_idle(&mut a, &mut b, &mut now, CONNS));
    let ends = 2 * CONNS as i64;
    let per_end = grown / ends;
    let r = engine::stack::memory_per_connection();
    eprintln!("heap per idle connection end: {per_end} B (computed {r:?})");
    assert_eq!(a.tcp().curr_estab(), (CONNS + 100) as u64);
    assert_eq!(b.tcp().curr_estab(), (CONNS + 100) as u64);
    // Growth of the tables is amortised (vectors and hash tables double): at most twice the
    // computed per-connection cost, and never the queue arrays of a busy connection on top.
    assert!(
        per_end <= 2 * r.total as i64,
        "{per_end} B per idle connection end on the heap, computed {}",
        r.total
    );
}
