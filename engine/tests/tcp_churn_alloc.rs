//! Connection churn allocates nothing in the steady state ("no allocation per connection"):
//! two stacks over a DPDK net_ring pair, with a fake clock, open, use and close connections
//! one after another (connect, 64 B request, echo, close from the client first, TIME-WAIT
//! ended by its timer), and a counting global allocator sees no heap allocation on this thread
//! over hundreds of connections once the first ones have warmed the stacks up (per-core pools
//! and tables: `tcp::spare`, the slab, the timer wheel).

mod counting;

use std::net::Ipv4Addr;
use std::time::Duration;

use engine::buf::{DEFAULT_DATA_ROOM, Mempool, PoolSizes, Pools};
use engine::dev::dpdk::{Port, PortConfig};
use engine::eal;
use engine::tcp::{ConnId, Event, State};
use engine::time::Instant;
use engine::wire::MacAddr;
use engine::{Stack, StackConfig};

const IP_A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const IP_B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PORT: u16 = 7;

fn pools(prefix: &str) -> Pools {
    let sizes = PoolSizes {
        data: 2047,
        hdr: 1023,
        indirect: 1023,
    };
    Pools::create(prefix, &sizes).expect("pools")
}

/// Client and server of the churn, and the clock.
struct Churn<D: engine::dev::Device> {
    a: Stack<D>,
    b: Stack<D>,
    now: Instant,
    done: u64,
}

impl<D: engine::dev::Device> Churn<D> {
    /// Runs one connection to its end on both sides: the client's TCB freed after TIME-WAIT,
    /// the server's after LAST-ACK.
    fn one_connection(&mut self, listener: engine::tcp::ListenerId) {
        let c = self.a.connect(IP_B, PORT, None).expect("connect");
        let mut server: Option<ConnId> = None;
        let mut got = 0usize;
        let mut buf = [0u8; 64];
        for _ in 0..10_000 {
            self.now += Duration::from_micros(10);
            self.a.poll(self.now);
            self.b.poll(self.now);
            while let Some(ev) = self.b.poll_event() {
                match ev {
                    Event::Acceptable(_) => server = self.b.accept(listener),
                    Event::Readable(s) => loop {
                        match self.b.recv(s, &mut buf) {
                            Ok(0) => {
                                self.b.close(s);
                                break;
                            }
                            Ok(n) => assert_eq!(self.b.send(s, &buf[..n]), Ok(n)),
                            Err(_) => break,
                        }
                    },
                    Event::Closed(s, err) => {
                        assert_eq!(err, None);
                        self.b.close(s);
                    }
                    Event::Connected(_) | Event::Writable(_) => {}
                }
            }
            while let Some(ev) = self.a.poll_event() {
                match ev {
                    Event::Connected(x) => assert_eq!(self.a.send(x, &[7u8; 64]), Ok(64)),
                    Event::Readable(x) => {
                        while let Ok(n @ 1..) = self.a.recv(x, &mut buf) {
                            got += n;
                        }
                        if got == 64 {
                            self.a.close(x);
                        }
                    }
                    Event::Closed(..) | Event::Acceptable(_) | Event::Writable(_) => {}
                }
            }
            if got == 64 && self.a.tcp().connections() == 0 && self.b.tcp().connections() == 0 {
                assert!(server.is_some());
                self.done += 1;
                return;
            }
            assert!(self.a.info(c).is_none_or(|i| i.state != State::Closed));
        }
        panic!("connection {} did not finish", self.done);
    }
}

#[test]
fn connection_churn_does_not_allocate_in_the_steady_state() {
    let eal = eal::init_for_tests();
    let link = Mempool::create("cal", 4095, 0, DEFAULT_DATA_ROOM).expect("link pool");
    let (mut pa, mut pb) = Port::open_ring_pair(eal, &PortConfig::new(link)).expect("ring pair");
    pa.caps.mac = MacAddr([2, 0, 0, 0, 0, 0xa]);
    pb.caps.mac = MacAddr([2, 0, 0, 0, 0, 0xb]);
    let config = |ip| {
        let mut cfg = StackConfig::new(ip, 24);
        cfg.tcp.time_wait = Duration::from_millis(1);
        cfg.tcp.max_connections = 1024;
        cfg
    };
    let mut churn = Churn {
        a: Stack::new(pa.queue(0), pools("caa"), config(IP_A)),
        b: Stack::new(pb.queue(0), pools("cab"), config(IP_B)),
        now: Instant::ZERO,
        done: 0,
    };
    let listener = churn.b.listen(PORT, 128, None).expect("listen");
    for _ in 0..200 {
        churn.one_connection(listener);
    }
    let allocs = counting::allocations(|| {
        for _ in 0..500 {
            churn.one_connection(listener);
        }
    });
    assert_eq!(allocs, 0, "{allocs} heap allocations over 500 connections");
    let (ca, cb) = (churn.a.counters(), churn.b.counters());
    assert_eq!(ca.tcp.active_opens, 700);
    assert_eq!(cb.tcp.passive_opens, 700);
    assert_eq!(ca.tcp.retrans_segs + cb.tcp.retrans_segs, 0);
}
