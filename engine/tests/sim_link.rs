//! The simulated link (latency, bandwidth, queue limit, mbuf holding), the seeded fault injector
//! (determinism over a SimLink and over a DPDK net_ring pair, and that the received frames show
//! the logged faults), and pcap capture read back by hand and by tcpdump.

use std::collections::HashMap;
use std::time::Duration;

use engine::buf::{DEFAULT_DATA_ROOM, Mempool, Pkt};
use engine::dev::dpdk::{Port, PortConfig};
use engine::dev::fault::{Fault, FaultConfig, FaultInjector};
use engine::dev::pcap::{Pcap, PcapWriter};
use engine::dev::sim::{SimConfig, SimLink, SimPort};
use engine::dev::{Device, DeviceCaps, TxFrames};
use engine::eal;
use engine::time::Instant;
use engine::wire::MacAddr;

const MAC_A: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
const MAC_B: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);

fn pool(name: &str, count: u32) -> Mempool {
    eal::init_for_tests();
    Mempool::create(name, count, 0, DEFAULT_DATA_ROOM).expect("pool")
}

fn link(pool: Mempool, cfg: SimConfig) -> (SimPort, SimPort) {
    SimLink::pair(pool, cfg, MAC_A, MAC_B)
}

/// An Ethernet frame of `len` bytes (A to B, experimental EtherType) with `fill` as payload.
fn frame_bytes(len: usize, fill: u8) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&MAC_B.0);
    v.extend_from_slice(&MAC_A.0);
    v.extend_from_slice(&[0x88, 0xb5]);
    v.resize(len, fill);
    v
}

fn bytes(p: &Pkt) -> Vec<u8> {
    let mut v = vec![0; p.len()];
    assert_eq!(p.copy_out(0, &mut v), p.len());
    v
}

fn ns(n: u64) -> Duration {
    Duration::from_nanos(n)
}

#[test]
fn latency_frame_arrives_after_serialization_plus_latency_not_before() {
    let p = pool("slat", 255);
    let cfg = SimConfig {
        latency: Duration::from_micros(10),
        bandwidth_bps: 1_000_000_000,
        ..SimConfig::default()
    };
    let (mut a, mut b) = link(p, cfg);
    let t0 = Instant::from_micros(5);
    let sent = frame_bytes(100, 7);
    let mut batch = vec![Pkt::from_slice(&p, &sent).expect("alloc")];
    assert_eq!(a.tx_burst(t0, &mut batch), 1);
    assert!(batch.is_empty());
    let ser_end = t0 + ns(800); // 100 B at 1 Gbit/s
    let arrival = ser_end + Duration::from_micros(10);
    assert_eq!(a.next_arrival(), Some(ser_end));
    assert_eq!(b.next_arrival(), Some(ser_end));
    let mut got = Vec::new();
    assert_eq!(b.rx_burst(ser_end, &mut got, 32), 0);
    assert_eq!(b.next_arrival(), Some(arrival), "on the wire now");
    assert_eq!(b.rx_burst(arrival - ns(1), &mut got, 32), 0);
    assert_eq!(a.rx_burst(arrival, &mut got, 32), 0, "nothing for A");
    assert_eq!(b.rx_burst(arrival, &mut got, 32), 1);
    assert_eq!(bytes(&got[0]), sent);
    assert_eq!(b.next_arrival(), None);
    let (sa, sb) = (a.stats(), b.stats());
    assert_eq!((sa.tx_frames, sa.tx_bytes, sa.rx_frames), (1, 100, 0));
    assert_eq!((sb.tx_frames, sb.rx_frames), (0, 1));
}

#[test]
fn bandwidth_spaces_back_to_back_frames_by_serialization_time() {
    let p = pool("sbw", 255);
    let latency = Duration::from_micros(3);
    let cfg = SimConfig {
        latency,
        bandwidth_bps: 1_000_000_000,
        ..SimConfig::default()
    };
    let (mut a, mut b) = link(p, cfg);
    let mut batch: Vec<Pkt> = (0..10u8)
        .map(|i| Pkt::from_slice(&p, &frame_bytes(1500, i)).expect("alloc"))
        .collect();
    assert_eq!(a.tx_burst(Instant::ZERO, &mut batch), 10);
    let mut arrivals = Vec::new();
    let mut got = Vec::new();
    let mut now = Instant::ZERO;
    while let Some(t) = b.next_arrival() {
        assert!(t >= now, "virtual time moves forward");
        now = t;
        if b.rx_burst(now, &mut got, 32) > 0 {
            arrivals.push(now);
        }
    }
    assert_eq!(got.len(), 10);
    for (k, (at, pkt)) in arrivals.iter().zip(&got).enumerate() {
        let expect = Instant::from_micros(12 * (k as u64 + 1)) + latency;
        assert_eq!(*at, expect, "frame {k}");
        assert_eq!(bytes(pkt), frame_bytes(1500, k as u8));
    }
}

#[test]
fn queue_limit_tail_drops_the_excess_and_counts_it() {
    let p = pool("sq", 255);
    let cfg = SimConfig {
        queue_limit: 8,
        bandwidth_bps: 1_000_000_000,
        ..SimConfig::default()
    };
    let (mut a, mut b) = link(p, cfg);
    let mut batch: Vec<Pkt> = (0..20u8)
        .map(|i| Pkt::from_slice(&p, &frame_bytes(200, i)).expect("alloc"))
        .collect();
    assert_eq!(
        a.tx_burst(Instant::ZERO, &mut batch),
        20,
        "a NIC drop still accepts"
    );
    assert!(batch.is_empty());
    assert_eq!(a.tx_queued(), 8);
    let s = a.stats();
    assert_eq!((s.tx_frames, s.tail_drops), (8, 12));
    // The queue drains at line rate: when the first 200 B frame is serialized (1.6 µs) there
    // is room for one more.
    let mut batch: Vec<Pkt> = (98..100u8)
        .map(|i| Pkt::from_slice(&p, &frame_bytes(200, i)).expect("alloc"))
        .collect();
    assert_eq!(a.tx_burst(Instant::ZERO + ns(1600), &mut batch), 2);
    let s = a.stats();
    assert_eq!((s.tx_frames, s.tail_drops), (9, 13));
    let mut got = Vec::new();
    b.rx_burst(Instant::from_millis(1), &mut got, 64);
    let fills: Vec<u8> = got.iter().map(|p| p.data()[20]).collect();
    let mut want: Vec<u8> = (0..8).collect();
    want.push(98);
    assert_eq!(fills, want, "the first 8 and the one that fitted, in order");
    drop(got);
    assert_eq!(p.in_use(), 0, "dropped frames were freed");
}

#[test]
fn oversize_frames_are_dropped_and_counted() {
    let p = pool("sovr", 255);
    let (mut a, mut b) = link(p, SimConfig::default());
    let mut batch = vec![
        Pkt::from_slice(&p, &frame_bytes(1514, 1)).expect("alloc"),
        Pkt::from_slice(&p, &frame_bytes(1515, 2)).expect("alloc"),
    ];
    assert_eq!(a.tx_burst(Instant::ZERO, &mut batch), 2);
    let mut got = Vec::new();
    assert_eq!(b.rx_burst(Instant::from_millis(1), &mut got, 8), 1);
    assert_eq!(got[0].len(), 1514);
    assert_eq!(a.stats().oversize, 1);
}

#[test]
fn original_mbuf_is_held_until_its_serialization_ends() {
    let p = pool("shold", 255);
    let cfg = SimConfig {
        bandwidth_bps: 1_000_000_000,
        ..SimConfig::default()
    };
    let (mut a, mut b) = link(p, cfg);
    let first = Pkt::from_slice(&p, &frame_bytes(1000, 1)).expect("alloc");
    let second = Pkt::from_slice(&p, &frame_bytes(1000, 2)).expect("alloc");
    // SAFETY: the kept handles share the frames' metadata with the ones handed to the link.
    // Nothing changes it while both live: the link only reads a queued original (to copy it
    // for the receiver) and then frees it, and this test only reads refcounts, on one thread.
    let (kept1, kept2) = unsafe { (first.share(), second.share()) };
    let mut batch = vec![first, second];
    a.tx_burst(Instant::ZERO, &mut batch);
    let (end1, end2) = (Instant::from_micros(8), Instant::from_micros(16));
    assert_eq!(kept1.max_data_refcnt(), 2, "in the TX ring");
    let mut got = Vec::new();
    b.rx_burst(end1 - ns(1), &mut got, 8);
    assert_eq!(kept1.max_data_refcnt(), 2, "still serializing");
    b.rx_burst(end1, &mut got, 8);
    assert_eq!(
        kept1.max_data_refcnt(),
        1,
        "released when its serialization ends"
    );
    assert_eq!(
        kept2.max_data_refcnt(),
        2,
        "the second one is still on the NIC"
    );
    a.rx_burst(end2, &mut got, 8);
    assert_eq!(kept2.max_data_refcnt(), 1);
    assert!(got.is_empty(), "nothing delivered before the latency");
}

#[test]
fn empty_pool_drops_the_receiver_copy_and_counts_rx_nombuf() {
    let src = pool("snbs", 255);
    let tiny = pool("snbt", 3);
    let (mut a, mut b) = link(tiny, SimConfig::default());
    let mut batch: Vec<Pkt> = (0..5u8)
        .map(|i| Pkt::from_slice(&src, &frame_bytes(100, i)).expect("alloc"))
        .collect();
    a.tx_burst(Instant::ZERO, &mut batch);
    let mut got = Vec::new();
    assert_eq!(b.rx_burst(Instant::from_millis(1), &mut got, 8), 3);
    assert_eq!(b.stats().rx_nombuf, 2);
    assert_eq!(
        src.in_use(),
        0,
        "originals freed, including the undelivered ones"
    );
}

// ---- fault injector ----

const FRAMES: u64 = 2000;
const FRAME_LEN: usize = 62;

fn fault_cfg(seed: u64) -> FaultConfig {
    FaultConfig {
        seed,
        drop: 0.1,
        duplicate: 0.05,
        reorder: 0.05,
        reorder_delay: Duration::from_micros(50),
        corrupt: 0.02,
    }
}

/// Frame `i`: the index three times (so one flipped bit cannot hide it), then filler.
fn indexed_frame(i: u64) -> Vec<u8> {
    let mut v = frame_bytes(14, 0);
    for _ in 0..3 {
        v.extend_from_slice(&i.to_le_bytes());
    }
    v.resize(FRAME_LEN, (i as u8).wrapping_mul(31));
    v
}

/// The index a received frame carries, by majority of its three copies.
fn index_of(f: &[u8]) -> u64 {
    let word = |k: usize| u64::from_le_bytes(f[14 + 8 * k..22 + 8 * k].try_into().unwrap());
    let (x, y, z) = (word(0), word(1), word(2));
    if x == y || x == z { x } else { y }
}

struct Run {
    log: Vec<(u64, Fault)>,
    received: Vec<Vec<u8>>,
}

fn receive(dev: &mut impl Device, now: Instant, into: &mut Vec<Vec<u8>>) {
    let mut got = Vec::with_capacity(64);
    while dev.rx_burst(now, &mut got, 64) > 0 {
        into.extend(got.drain(..).map(|p| bytes(&p)));
    }
}

/// Sends `FRAMES` indexed frames through the injector, one per microsecond, receives them on
/// `b`, then steps virtual time until nothing is pending.
fn drive<A: Device, B: Device>(fa: &mut FaultInjector<A>, b: &mut B, p: Mempool) -> Vec<Vec<u8>> {
    let mut received = Vec::new();
    let mut batch = Vec::with_capacity(1);
    for i in 0..FRAMES {
        let now = Instant::from_micros(i);
        batch.push(Pkt::from_slice(&p, &indexed_frame(i)).expect("alloc"));
        assert_eq!(fa.tx_burst(now, &mut batch), 1);
        receive(b, now, &mut received);
    }
    let mut now = Instant::from_micros(FRAMES);
    loop {
        fa.tx_burst(now, &mut Vec::new());
        receive(b, now, &mut received);
        match [fa.next_arrival(), b.next_arrival()]
            .into_iter()
            .flatten()
            .min()
        {
            Some(t) => now = t.max(now + ns(1)),
            None => break,
        }
    }
    received
}

fn run_over_sim(seed: u64) -> Run {
    let p = pool("fsim", 8191);
    let (a, mut b) = link(p, SimConfig::default());
    let mut fa = FaultInjector::new(a, p, fault_cfg(seed));
    fa.record(true);
    let received = drive(&mut fa, &mut b, p);
    assert_eq!(fa.inner().stats().tail_drops + b.stats().rx_nombuf, 0);
    let log = fa.log().to_vec();
    check_stats(&fa, &log);
    drop((fa, b));
    assert_eq!(p.in_use(), 0, "no mbuf leaked");
    Run { log, received }
}

fn run_over_ring(seed: u64) -> Run {
    let eal = eal::init_for_tests();
    let p = pool("fring", 8191);
    let (pa, pb) = Port::open_ring_pair(eal, &PortConfig::new(p)).expect("ring pair");
    let mut fa = FaultInjector::new(pa.queue(0), p, fault_cfg(seed));
    let mut qb = pb.queue(0);
    fa.record(true);
    let received = drive(&mut fa, &mut qb, p);
    let log = fa.log().to_vec();
    check_stats(&fa, &log);
    drop(fa);
    assert_eq!(p.in_use(), 0, "no mbuf leaked");
    pa.close();
    pb.close();
    Run { log, received }
}

fn check_stats<D: Device>(fa: &FaultInjector<D>, log: &[(u64, Fault)]) {
    let count = |f| log.iter().filter(|(_, g)| *g == f).count() as u64;
    let s = fa.stats();
    assert_eq!(s.frames, FRAMES);
    assert_eq!(s.nombuf, 0);
    assert_eq!(
        (s.dropped, s.duplicated, s.reordered, s.corrupted),
        (
            count(Fault::Drop),
            count(Fault::Duplicate),
            count(Fault::Reorder),
            count(Fault::Corrupt)
        )
    );
    for f in [
        Fault::Drop,
        Fault::Duplicate,
        Fault::Reorder,
        Fault::Corrupt,
    ] {
        assert!(count(f) > 0, "{f:?} never happened in {FRAMES} frames");
    }
}

/// Checks that the received frames show exactly the faults the log records.
fn check_received_matches_log(run: &Run) {
    let mut faults: HashMap<u64, Vec<Fault>> = HashMap::new();
    for &(i, f) in &run.log {
        faults.entry(i).or_default().push(f);
    }
    let has = |i: u64, f: Fault| faults.get(&i).is_some_and(|v| v.contains(&f));
    let mut count: HashMap<u64, usize> = HashMap::new();
    let mut first_pos: HashMap<u64, usize> = HashMap::new();
    for (pos, f) in run.received.iter().enumerate() {
        let i = index_of(f);
        assert!(i < FRAMES, "frame with impossible index {i}");
        *count.entry(i).or_default() += 1;
        first_pos.entry(i).or_insert(pos);
        assert_eq!(
            *f != indexed_frame(i),
            has(i, Fault::Corrupt),
            "frame {i} corruption"
        );
    }
    for i in 0..FRAMES {
        let expect = if has(i, Fault::Drop) {
            0
        } else if has(i, Fault::Duplicate) {
            2
        } else {
            1
        };
        assert_eq!(
            count.get(&i).copied().unwrap_or(0),
            expect,
            "copies of frame {i}"
        );
    }
    check_order(run, &first_pos, &has);
}

/// In-time frames arrive in index order; a reordered frame is overtaken by a later one whenever
/// some later frame went out undelayed within its delay (one frame per microsecond).
fn check_order(run: &Run, first_pos: &HashMap<u64, usize>, has: &dyn Fn(u64, Fault) -> bool) {
    let in_time: Vec<u64> = run
        .received
        .iter()
        .map(|f| index_of(f))
        .filter(|&i| !has(i, Fault::Reorder))
        .collect();
    assert!(
        in_time.windows(2).all(|w| w[0] <= w[1]),
        "in-time frames keep their order"
    );
    let delay = fault_cfg(0).reorder_delay.as_micros() as u64;
    let mut overtaken = 0;
    for i in (0..FRAMES).filter(|&i| has(i, Fault::Reorder) && !has(i, Fault::Drop)) {
        let witness = (i + 1..(i + delay).min(FRAMES))
            .find(|&j| !has(j, Fault::Drop) && !has(j, Fault::Reorder));
        if let Some(j) = witness {
            assert!(
                first_pos[&j] < first_pos[&i],
                "frame {j} overtakes reordered {i}"
            );
            overtaken += 1;
        }
    }
    assert!(overtaken > 0);
}

fn check_determinism(run: impl Fn(u64) -> Run) {
    let (r1, r2, r3) = (run(7), run(7), run(8));
    assert_eq!(r1.log, r2.log, "same seed, same decisions");
    assert!(
        r1.received == r2.received,
        "same seed, same received sequence"
    );
    assert_ne!(r1.log, r3.log, "another seed, other decisions");
    check_received_matches_log(&r1);
    check_received_matches_log(&r3);
}

#[test]
fn fault_injector_is_deterministic_over_sim_link() {
    check_determinism(run_over_sim);
}

#[test]
fn fault_injector_is_deterministic_over_net_ring() {
    check_determinism(run_over_ring);
}

#[test]
fn fault_injector_never_mutates_the_original() {
    let p = pool("fmut", 1023);
    let (a, mut b) = link(p, SimConfig::default());
    let cfg = FaultConfig {
        corrupt: 1.0,
        ..FaultConfig::default()
    };
    let mut fa = FaultInjector::new(a, p, cfg);
    assert!(!fa.caps().tx_copies);
    let sent = indexed_frame(5);
    let original = Pkt::from_slice(&p, &sent).expect("alloc");
    // SAFETY: `kept` shares the original's metadata; nothing changes it while both live: with
    // every frame corrupted, the injector only reads the original (to copy it) and frees it,
    // and this test only reads `kept`, on one thread.
    let kept = unsafe { original.share() };
    fa.tx_burst(Instant::ZERO, &mut vec![original]);
    let mut got = Vec::new();
    b.rx_burst(Instant::from_millis(1), &mut got, 8);
    assert_eq!(got.len(), 1);
    let diff: Vec<usize> = (0..sent.len())
        .filter(|&k| got[0].data()[k] != sent[k])
        .collect();
    assert_eq!(diff.len(), 1, "one byte differs");
    assert!(diff[0] >= 14, "past the Ethernet header");
    assert_eq!(
        (got[0].data()[diff[0]] ^ sent[diff[0]]).count_ones(),
        1,
        "one bit"
    );
    assert_eq!(bytes(&kept), sent, "the original is untouched");
}

/// A device that accepts one frame per transmit (and frees it), to test partial acceptance.
struct TakesOne(DeviceCaps);

impl Device for TakesOne {
    fn caps(&self) -> &DeviceCaps {
        &self.0
    }
    fn rx_burst(&mut self, _: Instant, _: &mut Vec<Pkt>, _: usize) -> usize {
        0
    }
    fn transmit(&mut self, _: Instant, frames: &mut TxFrames<'_>) {
        drop(frames.take());
    }
}

#[test]
fn fault_injector_keeps_refused_frames_and_pushes_back_on_the_caller() {
    let p = pool("fback", 255);
    let inner = TakesOne(DeviceCaps::software(MAC_A, 1500));
    let mut fa = FaultInjector::new(inner, p, FaultConfig::default());
    let mut batch: Vec<Pkt> = (0..3)
        .map(|i| Pkt::from_slice(&p, &indexed_frame(i)).expect("alloc"))
        .collect();
    assert_eq!(
        fa.tx_burst(Instant::ZERO, &mut batch),
        3,
        "decided, so taken"
    );
    assert_eq!(fa.backlog(), 2, "the inner device took one");
    batch.push(Pkt::from_slice(&p, &indexed_frame(3)).expect("alloc"));
    assert_eq!(fa.tx_burst(Instant::ZERO, &mut batch), 0, "backlog first");
    assert_eq!((batch.len(), fa.backlog()), (1, 1));
    assert_eq!(
        fa.tx_burst(Instant::ZERO, &mut batch),
        1,
        "backlog drained, frame taken"
    );
    assert_eq!((batch.len(), fa.backlog(), fa.stats().frames), (0, 0, 4));
    drop(fa);
    assert_eq!(p.in_use(), 0);
}

// ---- pcap ----

fn tmp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("engine-{name}-{}.pcap", std::process::id()))
}

/// Parses a pcap file written on this machine: (timestamp ns, original length, bytes).
fn read_pcap(path: &std::path::Path) -> Vec<(u64, u32, Vec<u8>)> {
    let f = std::fs::read(path).expect("read pcap");
    let u32_at = |o: usize| u32::from_ne_bytes(f[o..o + 4].try_into().unwrap());
    let u16_at = |o: usize| u16::from_ne_bytes(f[o..o + 2].try_into().unwrap());
    assert_eq!(u32_at(0), 0xa1b2_3c4d, "nanosecond magic");
    assert_eq!((u16_at(4), u16_at(6)), (2, 4), "version 2.4");
    assert_eq!((u32_at(8), u32_at(12)), (0, 0), "thiszone, sigfigs");
    assert_eq!(u32_at(16), 65_535, "snaplen");
    assert_eq!(u32_at(20), 1, "linktype Ethernet");
    let mut out = Vec::new();
    let mut o = 24;
    while o < f.len() {
        let (sec, nsec, incl, orig) = (u32_at(o), u32_at(o + 4), u32_at(o + 8), u32_at(o + 12));
        assert!(nsec < 1_000_000_000);
        let data = f[o + 16..o + 16 + incl as usize].to_vec();
        out.push((u64::from(sec) * 1_000_000_000 + u64::from(nsec), orig, data));
        o += 16 + incl as usize;
    }
    assert_eq!(o, f.len(), "no trailing bytes");
    out
}

/// Runs `tcpdump -r path -nn -tt --nano` if tcpdump is installed and returns, per record, the
/// timestamp and the length it printed ("1.500001000", 1000).
fn tcpdump_records(path: &std::path::Path) -> Option<Vec<(String, usize)>> {
    let Ok(out) = std::process::Command::new("tcpdump")
        .arg("-r")
        .arg(path)
        .args(["-nn", "-tt", "--nano"])
        .output()
    else {
        eprintln!("tcpdump is not installed (`which tcpdump` finds nothing): skipping read-back");
        return None;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tcpdump failed: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Summary lines start at column 0; hex dumps of the unknown EtherType are indented.
    let recs = stdout
        .lines()
        .filter(|l| !l.starts_with(char::is_whitespace))
        .map(|l| {
            let ts = l.split(' ').next().unwrap_or_default().to_string();
            let len = l.rsplit("length ").next().unwrap_or_default();
            let len = len.trim_end_matches(|c: char| !c.is_ascii_digit());
            (ts, len.parse().unwrap_or(usize::MAX))
        })
        .collect();
    Some(recs)
}

fn tcpdump_ts(t: Instant) -> String {
    format!(
        "{}.{:09}",
        t.as_nanos() / 1_000_000_000,
        t.as_nanos() % 1_000_000_000
    )
}

#[test]
fn pcap_writer_round_trip_with_chained_frames() {
    let p = pool("pcb", 255);
    let small = Mempool::create("pcs", 255, 0, 128 + 256).expect("pool");
    let path = tmp_path("writer");
    let frames = [
        frame_bytes(60, 1),
        frame_bytes(1000, 2),
        frame_bytes(1514, 3),
    ];
    let times = [
        Instant::from_nanos(5),
        Instant::from_micros(1_500_001),
        Instant::from_secs(3),
    ];
    let mut w = PcapWriter::create(&path).expect("create");
    for (k, (f, t)) in frames.iter().zip(times).enumerate() {
        let pool = if k == 1 { small } else { p };
        let pkt = Pkt::from_slice(&pool, f).expect("alloc");
        if k == 1 {
            assert!(pkt.nb_segs() > 1, "a chained frame");
        }
        w.write(t, &pkt).expect("write");
    }
    w.flush().expect("flush");
    drop(w);
    let recs = read_pcap(&path);
    assert_eq!(recs.len(), 3);
    for ((ts, orig, data), (f, t)) in recs.iter().zip(frames.iter().zip(times)) {
        assert_eq!(*ts, t.as_nanos());
        assert_eq!(*orig as usize, f.len());
        assert_eq!(data, f);
    }
    if let Some(recs) = tcpdump_records(&path) {
        let want: Vec<(String, usize)> = times
            .iter()
            .zip(&frames)
            .map(|(t, f)| (tcpdump_ts(*t), f.len()))
            .collect();
        assert_eq!(
            recs, want,
            "tcpdump reads every record with its ns timestamp"
        );
    }
    std::fs::remove_file(&path).ok();
}

#[test]
fn pcap_device_records_received_and_transmitted_frames() {
    let p = pool("pcd", 255);
    let path = tmp_path("device");
    let (a, mut b) = link(p, SimConfig::default());
    let mut a = Pcap::new(a, PcapWriter::create(&path).expect("create"));
    let out: Vec<Vec<u8>> = (0..2).map(|i| frame_bytes(80, i)).collect();
    let mut batch: Vec<Pkt> = out
        .iter()
        .map(|f| Pkt::from_slice(&p, f).expect("alloc"))
        .collect();
    assert_eq!(a.tx_burst(Instant::from_micros(1), &mut batch), 2);
    let back = frame_bytes(90, 9);
    let mut batch = vec![Pkt::from_slice(&p, &back).expect("alloc")];
    b.tx_burst(Instant::from_micros(2), &mut batch);
    let mut got = Vec::new();
    let at = Instant::from_millis(1);
    assert_eq!(a.rx_burst(at, &mut got, 8), 1);
    a.flush().expect("flush");
    assert!(a.take_error().is_none());
    drop(a);
    let recs = read_pcap(&path);
    let got: Vec<(u64, &[u8])> = recs.iter().map(|(t, _, d)| (*t, &d[..])).collect();
    let want: Vec<(u64, &[u8])> = vec![(1_000, &out[0]), (1_000, &out[1]), (at.as_nanos(), &back)];
    assert_eq!(got, want);
    if let Some(recs) = tcpdump_records(&path) {
        assert_eq!(recs.len(), 3, "tcpdump reads every record: {recs:?}");
    }
    std::fs::remove_file(&path).ok();
}

#[test]
fn pcap_device_records_only_the_frames_the_inner_device_accepted() {
    let p = pool("pca", 255);
    let path = tmp_path("accepted");
    let inner = TakesOne(DeviceCaps::software(MAC_A, 1500));
    let mut dev = Pcap::new(inner, PcapWriter::create(&path).expect("create"));
    let frames: Vec<Vec<u8>> = (0..3).map(|i| frame_bytes(70, i)).collect();
    let mut batch: Vec<Pkt> = frames
        .iter()
        .map(|f| Pkt::from_slice(&p, f).expect("alloc"))
        .collect();
    let mut t = 0;
    while !batch.is_empty() {
        t += 1;
        assert_eq!(dev.tx_burst(Instant::from_micros(t), &mut batch), 1);
    }
    dev.flush().expect("flush");
    let recs = read_pcap(&path);
    let got: Vec<&[u8]> = recs.iter().map(|(_, _, d)| &d[..]).collect();
    assert_eq!(
        got,
        frames.iter().map(|f| &f[..]).collect::<Vec<_>>(),
        "each frame once"
    );
    std::fs::remove_file(&path).ok();
}
