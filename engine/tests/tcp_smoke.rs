//! First end-to-end checks of TCP between two stacks over the simulated link in virtual time.

use std::net::Ipv4Addr;

use engine::buf::{Mempool, PoolSizes, Pools};
use engine::dev::sim::{SimConfig, SimLink, SimPort};
use engine::tcp::Event;
use engine::time::Instant;
use engine::wire::MacAddr;
use engine::{Stack, StackConfig, eal};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn pair(name: &str) -> (Stack<SimPort>, Stack<SimPort>) {
    eal::init_for_tests();
    let sizes = PoolSizes {
        data: 8191,
        hdr: 4095,
        indirect: 8191,
    };
    let pa = Pools::create(&format!("{name}a"), &sizes).unwrap();
    let pb = Pools::create(&format!("{name}b"), &sizes).unwrap();
    let link_pool = Mempool::create(&format!("{name}l"), 8191, 0, 2176).unwrap();
    let (da, db) = SimLink::pair(
        link_pool,
        SimConfig::default(),
        MacAddr([2, 0, 0, 0, 0, 1]),
        MacAddr([2, 0, 0, 0, 0, 2]),
    );
    let mut ca = StackConfig::new(A, 24);
    ca.seed = Some(1);
    let mut cb = StackConfig::new(B, 24);
    cb.seed = Some(2);
    (Stack::new(da, pa, ca), Stack::new(db, pb, cb))
}

fn step(a: &mut Stack<SimPort>, b: &mut Stack<SimPort>, now: &mut Instant) {
    a.poll(*now);
    b.poll(*now);
    let next = [a.next_deadline(), b.next_deadline()]
        .into_iter()
        .flatten()
        .min();
    *now = match next {
        Some(t) if t > *now => t,
        _ => *now + std::time::Duration::from_nanos(100),
    };
}

#[test]
fn handshake_and_echo_one_mib() {
    let (mut a, mut b) = pair("smk");
    let l = b.listen(7, 16, None).unwrap();
    let mut now = Instant::from_millis(1);
    a.poll(now);
    b.poll(now);
    let c = a.connect(B, 7, None).unwrap();
    let data: Vec<u8> = (0..(1 << 20)).map(|i: u32| (i * 31 % 251) as u8).collect();
    let (mut sent, mut got) = (0usize, Vec::new());
    let mut srv = None;
    let mut buf = vec![0u8; 65536];
    for _ in 0..2_000_000 {
        step(&mut a, &mut b, &mut now);
        while let Some(ev) = b.poll_event() {
            if let Event::Acceptable(_) = ev {
                srv = b.accept(l);
            }
        }
        while a.poll_event().is_some() {}
        if let Some(s) = srv {
            while let Ok(n) = b.recv(s, &mut buf) {
                if n == 0 {
                    break;
                }
                let mut off = 0;
                while off < n {
                    match b.send(s, &buf[off..n]) {
                        Ok(k) => off += k,
                        Err(_) => {
                            step(&mut a, &mut b, &mut now);
                        }
                    }
                }
            }
        }
        if sent < data.len()
            && let Ok(n) = a.send(c, &data[sent..])
        {
            sent += n;
        }
        while let Ok(n) = a.recv(c, &mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        if got.len() == data.len() {
            break;
        }
    }
    eprintln!("now {now:?} a {:?}", a.info(c));
    eprintln!("b {:?}", b.info(srv.unwrap()));
    assert_eq!(got.len(), data.len());
    assert!(got == data, "echoed bytes differ");
}
