//! Memory that cannot be held hostage (issue 10, "must show"), over a tap against the Linux
//! kernel: `serve echo` while fifty kernel connections send without ever reading their echo
//! and forty peers each pin 512 one-byte out-of-order segments (handshakes made by hand over a
//! raw socket, `common/ooo_peers.py`). A fresh client's 1 KiB echo completes while they do it
//! and after they go, and ping answers throughout. Before the fix the engine answered nothing
//! more, ever (the pool emptied and the tap could not receive).
//!
//! The hogs hold on for a few seconds, not the twenty: the pool is exhausted in far
//! less. Nothing asserts on durations; the timeouts are hang guards.

mod common;
#[path = "common/tcp.rs"]
mod tcp;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::counter;
use tcp::{ENGINE_IP, KERNEL_IP, ServePeer};

const ECHO: u16 = 7;
const HOGS: usize = 50;
const OOO_PEERS: u32 = 40;
const OOO_SEGS: u32 = 512;
/// How long the hogs hold on.
const HOLD: Duration = Duration::from_secs(6);
/// First source port of the out-of-order peers (the kernel's RSTs from these are dropped).
const OOO_BASE: u16 = 41_000;

/// A fresh kernel client sends 1 KiB and reads it back; the error if it could not.
fn fresh_echo(peer: &ServePeer) -> Result<(), String> {
    let s = peer.connect(ECHO).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let data: Vec<u8> = (0..1024u32).map(|i| (i * 7 + 3) as u8).collect();
    (&s).write_all(&data).map_err(|e| format!("write: {e}"))?;
    let mut got = vec![0u8; data.len()];
    (&s).read_exact(&mut got)
        .map_err(|e| format!("read the echo: {e}"))?;
    if got != data {
        return Err("the echo differs".into());
    }
    Ok(())
}

/// A kernel connection that writes until `stop` and never reads; closing it then (unread
/// data) resets it.
fn hog(s: TcpStream, stop: &AtomicBool) -> usize {
    s.set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let chunk = [0x5au8; 16 * 1024];
    let mut sent = 0;
    while !stop.load(Ordering::Relaxed) {
        match (&s).write(&chunk) {
            Ok(n) => sent += n,
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    sent
}

/// Drops the kernel's own RSTs from the out-of-order peers' ports (its answer to a SYN-ACK it
/// did not ask for); the peers' segments leave with TTL 99 and pass.
fn let_raw_peers_be(peer: &ServePeer) {
    let last = OOO_BASE + OOO_PEERS as u16 - 1;
    let range = format!("{OOO_BASE}-{last}");
    peer.ns.exec_ok(&["nft", "add", "table", "ip", "hostage"]);
    peer.ns.exec_ok(&[
        "nft",
        "add",
        "chain",
        "ip",
        "hostage",
        "out",
        "{ type filter hook output priority 0; }",
    ]);
    peer.ns.exec_ok(&[
        "nft", "add", "rule", "ip", "hostage", "out", "ip", "ttl", "!=", "99", "tcp", "sport",
        &range, "tcp", "flags", "&", "rst", "==", "rst", "drop",
    ]);
}

/// Sets the flag when dropped.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Whether ping answers; the reason if not.
fn ping_ok(peer: &ServePeer, what: &str) -> Result<(), String> {
    let p = peer.ns.ping(&ENGINE_IP.to_string(), 5, "0.2");
    if p.received == 0 {
        return Err(format!("{what}: no answer to ping: {}", p.output));
    }
    Ok(())
}

/// Runs the fresh client and ping checks, noting each failure in `failed`.
fn checks(peer: &ServePeer, what: &str, failed: &mut Vec<String>) {
    if let Err(e) = ping_ok(peer, what) {
        failed.push(e);
    }
    if let Err(e) = fresh_echo(peer) {
        failed.push(format!("{what}: fresh client: {e}"));
    }
    eprintln!("{what}: checked, {} failures so far", failed.len());
}

/// The out-of-order peers' arguments.
fn ooo_args() -> Vec<String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/common/ooo_peers.py");
    vec![
        script.to_str().unwrap().to_string(),
        KERNEL_IP.to_string(),
        ENGINE_IP.to_string(),
        ECHO.to_string(),
        OOO_BASE.to_string(),
        OOO_PEERS.to_string(),
        OOO_SEGS.to_string(),
        HOLD.as_secs().to_string(),
    ]
}

#[test]
fn non_reading_senders_and_out_of_order_pinners_do_not_hold_the_engine_hostage() {
    let peer = ServePeer::start("echo", &[]);
    fresh_echo(&peer).expect("echo before the hogs");
    let_raw_peers_be(&peer);
    let mut failed = Vec::new();
    let args = ooo_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut ooo = peer.ns.spawn("python3", &args);
    let line = ooo.wait_for_line(|l| l == "holding" || l.starts_with("handshakes"));
    assert_eq!(
        line,
        "holding",
        "out-of-order peers: {}",
        ooo.stderr_so_far()
    );
    eprintln!("out-of-order peers holding");
    let hogs: Vec<TcpStream> = (0..HOGS)
        .map(|_| peer.connect(ECHO).expect("hog connects"))
        .collect();
    let stop = AtomicBool::new(false);
    let sent = std::thread::scope(|sc| {
        let threads: Vec<_> = hogs
            .into_iter()
            .map(|s| {
                let stop = &stop;
                sc.spawn(move || hog(s, stop))
            })
            .collect();
        // Stops the hogs even if something below panics (the scope joins them).
        let _stop = StopOnDrop(&stop);
        let started = Instant::now();
        // While they hold on, twice, a second apart (the pool is spent long before).
        std::thread::sleep(Duration::from_secs(1));
        checks(&peer, "while they hold on", &mut failed);
        std::thread::sleep(Duration::from_secs(1));
        checks(&peer, "while they hold on, later", &mut failed);
        if started.elapsed() >= HOLD {
            failed.push("the checks outlasted the hogs; raise HOLD".into());
        }
        stop.store(true, Ordering::Relaxed);
        threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .sum::<usize>()
    });
    ooo.wait_for_line(|l| l == "gone");
    eprintln!("the hogs wrote {sent} bytes without reading; all gone");
    // After they go: still served.
    std::thread::sleep(Duration::from_millis(500));
    checks(&peer, "after they went", &mut failed);
    let c = peer.stop();
    eprintln!("serve counters: {c:?}");
    assert!(failed.is_empty(), "{failed:#?}");
    // Everything they held came back: what is in use is the port's receive ring and caches.
    let in_use = counter(&c, "MbufDataInUse");
    assert!(
        in_use < 4096,
        "{in_use} data mbufs still in use after they went"
    );
    assert!(counter(&c, "TcpPassiveOpens") >= (HOGS + 4) as u64 + u64::from(OOO_PEERS));
}
