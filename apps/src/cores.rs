//! Running a program's busy-polling cores: one [`Stack`] per queue of a port, joined by the
//! cross-core steering mesh, each core on its own thread in its own [`Place`]
//! (`crate::cpus`), sharing nothing (ARCHITECTURE decision 2). `serve` and `proxy` build their
//! cores with [`stacks`] and run them with [`run`]; each core's application is a [`Core`].
//!
//! Steering: over a port that picks the receive queue itself (net_tap, af_packet: the kernel's
//! flow hash) a frame may reach a core that does not own its flow; with more than one core the
//! stacks of a port are joined by `engine::ip::steer::mesh`, which hands such frames to their
//! owner (`FlowSteer::owner_of`) and copies ARP and Neighbor Discovery to every core. Active
//! opens choose ports their own core owns. Where the peer picks the queue (net_ring, memif:
//! `Spread::Sender`) no mesh is needed.
//!
//! Stop: every core polls until `crate::signal::stopped()`, then returns its report; the main
//! thread only waits (it never polls), so N cores are N busy CPUs.

use engine::buf::Pools;
use engine::dev::dpdk::{DpdkQueue, Port};
use engine::eal::{self, Eal};
use engine::ip::rss::Spread;
use engine::ip::steer::{self, Steering};
use engine::time::Instant;
use engine::{Stack, StackConfig};

use crate::clock::Clock;
use crate::cpus::{Place, Placement};
use crate::setup::SetupError;
use crate::signal;

/// What one core runs: its stack(s) and their application.
pub trait Core: Send {
    /// What the core hands back at exit (its counters, its application's statistics).
    type Report: Send;
    /// One pass: poll every stack of the core at `now` and run the application's events.
    fn poll(&mut self, now: Instant);
    /// The core's report, once it has stopped.
    fn report(self) -> Self::Report;
}

/// Fails unless `port` has a queue pair for each of `n` cores (a port may grant fewer than
/// asked).
pub fn check_queues(port: &Port, n: usize, opt: &str) -> Result<(), SetupError> {
    let have = usize::from(port.rx_queues.min(port.tx_queues));
    if have < n {
        return Err(SetupError::Other(format!(
            "{opt} {n} needs {n} queue pairs but port {} ({}) has {have}: give {opt} {have} or \
             less",
            port.spec, port.caps.driver
        )));
    }
    Ok(())
}

/// The stacks of `port`, one per pool set (`pools[i]` for queue `i`): `base` with a seed per
/// core, and with more than one core on a port whose peer does not pick the queue (net_tap,
/// af_packet, RSS NICs: `Port::spread`), joined by a steering mesh that also gives each stack
/// its view of flow ownership (active opens pick ports their core owns).
pub fn stacks(port: &Port, pools: Vec<Pools>, base: &StackConfig) -> Vec<Stack<DpdkQueue>> {
    let mut mesh = mesh_ends(port, pools.len()).into_iter();
    pools
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let mut cfg = base.clone();
            cfg.seed = base.seed.map(|s| s.wrapping_add(i as u64));
            let mut s = Stack::new(port.queue(i as u16), p, cfg);
            if let Some(end) = mesh.next().flatten() {
                s.set_steering(end);
            }
            s
        })
        .collect()
}

/// The steering ends of `n` stacks on `port`, one per stack: none with one stack or on a
/// port whose peer picks the queue (net_ring, memif: frames already reach the core that
/// sent), else a mesh (`ip::steer`).
pub fn mesh_ends(port: &Port, n: usize) -> Vec<Option<Steering>> {
    if n <= 1 || matches!(port.spread, Spread::Sender) {
        return (0..n).map(|_| None).collect();
    }
    steer::mesh(n as u16, port.spread.clone())
        .into_iter()
        .map(Some)
        .collect()
}

/// Runs `cores[i]` on its own thread in `placement.places[i]` until the program is told to
/// stop, calling `ready` once every thread is started; returns the reports in core order.
pub fn run<C: Core>(
    eal: Eal,
    placement: &Placement,
    cores: Vec<C>,
    prog: &str,
    ready: impl FnOnce(),
) -> Vec<C::Report> {
    assert_eq!(placement.places.len(), cores.len(), "one place per core");
    let clock = Clock::new(eal);
    std::thread::scope(|s| {
        let handles: Vec<_> = cores
            .into_iter()
            .zip(&placement.places)
            .map(|(core, place)| s.spawn(move || run_core(eal, clock, place, core, prog)))
            .collect();
        ready();
        handles
            .into_iter()
            .map(|h| h.join().expect("a core's thread panicked"))
            .collect()
    })
}

/// One core's thread: enter its place, register with DPDK (an lcore id, so it gets mempool
/// caches), poll until stopped.
fn run_core<C: Core>(eal: Eal, clock: Clock, place: &Place, mut core: C, prog: &str) -> C::Report {
    place.enter(prog);
    if !eal::register_thread(eal) {
        eprintln!("{prog}: warning: DPDK has no lcore left for a core's thread (no mempool cache)");
    }
    while !signal::stopped() {
        for _ in 0..64 {
            core.poll(clock.now());
        }
    }
    core.report()
}
