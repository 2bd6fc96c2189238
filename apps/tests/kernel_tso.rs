//! TSO on net_tap with the Linux kernel as the peer (issue 3, "must show"): an engine client
//! in this process writes 64 KiB in one `send` to a kernel sink; the frames on the tap are
//! captured on the kernel's side (an AF_PACKET socket bound to the tap) and checked: the data
//! left as MSS-sized segments (every TCP payload at most the MSS the kernel advertised),
//! sequence numbers contiguous, IPv4 and TCP checksums valid, IP identifications distinct; the
//! kernel acknowledged all of it; and the engine's counters show super-segments handed to the
//! port (`TcpExtTsoFrames`) and the wire segments they became (`TcpExtTsoWireSegs`).

mod common;
#[path = "common/tcp.rs"]
mod tcp;

use std::collections::{BTreeMap, HashSet};
use std::ffi::CString;
use std::io::Read;
use std::net::{Ipv4Addr, Shutdown};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use common::frames::checksum;
use common::raw::recv_frame;
use common::{Netns, unique_name};
use tcp::{ENGINE_IP, EngineHost, KERNEL_IP, accept_within, kernel_listen, pattern};

const LEN: usize = 64 * 1024;
const PORT: u16 = 7009;

/// An AF_PACKET socket capturing every frame on one interface, both directions (ETH_P_ALL).
/// Non-blocking; [`Capture::drain`] collects what is queued.
struct Capture {
    fd: OwnedFd,
    frames: Vec<Frame>,
}

/// One captured frame and its direction as the kernel saw it.
struct Frame {
    /// The kernel sent it (PACKET_OUTGOING); otherwise the kernel received it from the engine.
    outgoing: bool,
    bytes: Vec<u8>,
}

impl Capture {
    /// Opens the socket on `ifname`, in the calling thread's namespace, with a receive buffer
    /// big enough for the whole test (16 MiB).
    fn open(ifname: &str) -> Capture {
        let c = CString::new(ifname).expect("no NUL");
        // SAFETY: c is a valid C string.
        let ifindex = unsafe { libc::if_nametoindex(c.as_ptr()) };
        assert_ne!(ifindex, 0, "no interface {ifname} in this namespace");
        let proto = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket(2); the result is checked.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK,
                i32::from(proto),
            )
        };
        assert!(
            raw >= 0,
            "socket(AF_PACKET): {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: raw is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let size: libc::c_int = 16 << 20;
        // SAFETY: valid option value pointer and length.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "SO_RCVBUFFORCE: {}", std::io::Error::last_os_error());
        // SAFETY: sockaddr_ll is plain data; zero is a valid start.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto;
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: sll is initialised and its size passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        assert_eq!(
            rc,
            0,
            "bind(AF_PACKET, {ifname}): {}",
            std::io::Error::last_os_error()
        );
        Capture {
            fd,
            frames: Vec::new(),
        }
    }

    /// Takes every frame queued on the socket.
    fn drain(&mut self) {
        let mut buf = vec![0u8; 65536 + 256];
        loop {
            let (n, pkttype) = match recv_frame(&self.fd, &mut buf, libc::MSG_TRUNC) {
                Ok(r) => r,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => panic!("recvfrom(AF_PACKET): {e}"),
            };
            assert!(
                n <= buf.len(),
                "a {n}-byte frame was truncated by the capture"
            );
            self.frames.push(Frame {
                outgoing: pkttype == libc::PACKET_OUTGOING,
                bytes: buf[..n].to_vec(),
            });
        }
    }

    /// Frames the kernel dropped from this socket (PACKET_STATISTICS, read and reset).
    fn drops(&self) -> u32 {
        // SAFETY: tpacket_stats is plain data.
        let mut st: libc::tpacket_stats = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
        // SAFETY: valid pointers and length.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut st as *mut libc::tpacket_stats).cast(),
                &mut len,
            )
        };
        assert_eq!(
            rc,
            0,
            "PACKET_STATISTICS: {}",
            std::io::Error::last_os_error()
        );
        st.tp_drops
    }
}

/// The parts of a TCP/IPv4 frame the checks need.
#[derive(Debug)]
struct Seg {
    src: Ipv4Addr,
    ip_id: u16,
    ip_csum_ok: bool,
    tcp_csum_ok: bool,
    seq: u32,
    ack: u32,
    flags: u8,
    /// The MSS option, if present.
    mss: Option<u16>,
    payload: usize,
    frame_len: usize,
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;

/// Parses an Ethernet frame carrying TCP over IPv4 (independently of the engine's `wire`).
fn parse(f: &[u8]) -> Option<Seg> {
    const IP: usize = 14;
    if f.len() < IP + 20 || f[12..14] != [0x08, 0x00] || f[IP] >> 4 != 4 || f[IP + 9] != 6 {
        return None;
    }
    let ihl = usize::from(f[IP] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([f[IP + 2], f[IP + 3]]));
    assert!(
        total <= f.len() - IP,
        "IPv4 total length {total} past the frame"
    );
    let ip = &f[IP..IP + total];
    let tcp = &ip[ihl..];
    let doff = usize::from(tcp[12] >> 4) * 4;
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    // TCP checksum over the pseudo-header and the segment.
    let mut ph = Vec::with_capacity(12 + tcp.len());
    ph.extend_from_slice(&ip[12..20]);
    ph.extend_from_slice(&[0, 6]);
    ph.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
    ph.extend_from_slice(tcp);
    let mut mss = None;
    let mut o = 20;
    while o < doff {
        match tcp[o] {
            0 => break,
            1 => o += 1,
            kind => {
                let len = usize::from(tcp[o + 1]).max(2);
                if kind == 2 && len == 4 {
                    mss = Some(u16::from_be_bytes([tcp[o + 2], tcp[o + 3]]));
                }
                o += len;
            }
        }
    }
    Some(Seg {
        src,
        ip_id: u16::from_be_bytes([ip[4], ip[5]]),
        ip_csum_ok: checksum(&ip[..ihl]) == 0,
        tcp_csum_ok: checksum(&ph) == 0,
        seq: u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
        ack: u32::from_be_bytes([tcp[8], tcp[9], tcp[10], tcp[11]]),
        flags: tcp[13],
        mss,
        payload: tcp.len() - doff,
        frame_len: f.len(),
    })
}

#[test]
fn a_64_kib_write_leaves_as_mss_sized_segments_the_kernel_acknowledges() {
    let ns = Netns::new();
    let tap = unique_name("ts");
    let listener = kernel_listen(&ns, PORT);
    let data = pattern(LEN, 7);

    std::thread::scope(|sc| {
        // The kernel sink: reads and counts until EOF.
        let sink = sc.spawn(|| {
            let mut s = accept_within(&listener, Duration::from_secs(60));
            let mut got = Vec::new();
            s.read_to_end(&mut got)
                .expect("kernel sink reads until EOF");
            let _ = s.shutdown(Shutdown::Write);
            got
        });

        let (frames, drops, counters, info) = ns.in_thread(|| {
            let mut host = EngineHost::open(&ns, &tap);
            assert!(
                host.stack.caps().tx.tso,
                "net_tap offers TSO and the engine turns it on by default: {:?}",
                host.stack.caps()
            );
            let mut cap = Capture::open(&tap);
            let c = host.connect(KERNEL_IP, PORT, None);
            let before = host.stack.counters();
            let n = host.stack.send(c, &data).expect("send");
            assert_eq!(n, LEN, "one send takes all 64 KiB");
            host.run_until(
                "64 KiB acknowledged",
                Duration::from_secs(60),
                Some(c),
                |st, _| {
                    let i = st.info(c).expect("connection");
                    (i.unsent_bytes == 0 && i.unacked_bytes == 0).then_some(())
                },
            );
            let info = host.stack.info(c).expect("connection");
            let after = host.stack.counters();
            host.stack.shutdown(c).expect("shutdown");
            host.run_until("close", Duration::from_secs(30), Some(c), |st, _| {
                st.info(c)
                    .is_some_and(|i| {
                        i.snd_una == i.snd_nxt && i.state != engine::tcp::State::FinWait1
                    })
                    .then_some(())
            });
            cap.drain();
            let drops = cap.drops();
            let delta = (
                after.ip.tso_frames - before.ip.tso_frames,
                after.ip.tso_wire_segs - before.ip.tso_wire_segs,
                after.tcp.retrans_segs,
            );
            (std::mem::take(&mut cap.frames), drops, delta, info)
        });
        let got = sink.join().expect("kernel sink");
        assert_eq!(got.len(), LEN, "the kernel received every byte");
        assert!(got == data, "the kernel received the bytes sent");
        assert_eq!(drops, 0, "the capture lost no frame");

        let segs: Vec<(bool, Seg)> = frames
            .iter()
            .filter_map(|f| parse(&f.bytes).map(|s| (f.outgoing, s)))
            .collect();
        let from_kernel = |s: &Seg| s.src == KERNEL_IP;
        let synack = segs
            .iter()
            .map(|(_, s)| s)
            .find(|s| from_kernel(s) && s.flags & (SYN | ACK) == SYN | ACK)
            .expect("the kernel's SYN-ACK was captured");
        let mss = synack
            .mss
            .expect("the kernel's SYN-ACK carries an MSS option");
        let engine_syn = segs
            .iter()
            .map(|(_, s)| s)
            .find(|s| s.src == ENGINE_IP && s.flags & (SYN | ACK) == SYN)
            .expect("the engine's SYN was captured");
        let first = engine_syn.seq.wrapping_add(1);
        let end = first.wrapping_add(LEN as u32);
        assert!(
            segs.iter().all(|(out, s)| *out == from_kernel(s)),
            "the kernel's frames are outgoing, the engine's incoming"
        );

        // The engine's data segments, in wire order.
        let data_segs: Vec<&Seg> = segs
            .iter()
            .map(|(_, s)| s)
            .filter(|s| s.src == ENGINE_IP && s.payload > 0)
            .collect();
        let mut sizes: BTreeMap<usize, usize> = BTreeMap::new();
        let mut ids = HashSet::new();
        let mut next = first;
        let mut retransmitted = 0;
        for s in &data_segs {
            *sizes.entry(s.payload).or_default() += 1;
            assert!(s.ip_csum_ok, "valid IPv4 header checksum: {s:?}");
            assert!(s.tcp_csum_ok, "valid TCP checksum: {s:?}");
            assert!(
                s.payload <= usize::from(mss),
                "payload within the kernel's MSS {mss}: {s:?}"
            );
            assert!(s.frame_len <= 1514, "frame within the MTU: {s:?}");
            assert!(
                ids.insert(s.ip_id),
                "IP identification {} reused: {s:?}",
                s.ip_id
            );
            let off = s.seq.wrapping_sub(next) as i32;
            assert!(
                off <= 0,
                "gap of {off} bytes before {s:?} (expected seq {next})"
            );
            if off < 0 {
                retransmitted += 1;
            } else {
                next = next.wrapping_add(s.payload as u32);
            }
        }
        assert_eq!(next, end, "the segments cover exactly the 64 KiB written");
        let acked = segs
            .iter()
            .map(|(_, s)| s)
            .any(|s| from_kernel(s) && s.flags & ACK != 0 && s.ack.wrapping_sub(end) as i32 >= 0);
        assert!(
            acked,
            "the kernel acknowledged every byte (an ACK of {end} or beyond)"
        );
        assert_eq!(
            info.snd_una, end,
            "the engine saw all of it acknowledged: {info:?}"
        );

        let (tso_frames, tso_wire_segs, retrans) = counters;
        eprintln!(
            "TSO on net_tap: kernel MSS {mss}, engine MSS {}, {} data segments on the wire, \
             payload sizes {sizes:?}, {retransmitted} retransmitted; TcpExtTsoFrames {tso_frames}, \
             TcpExtTsoWireSegs {tso_wire_segs}, TcpRetransSegs {retrans}",
            info.mss,
            data_segs.len()
        );
        assert!(tso_frames >= 1, "super-segments handed to the port");
        assert!(
            tso_wire_segs >= (LEN / usize::from(mss)) as u64,
            "TcpExtTsoWireSegs {tso_wire_segs} covers 64 KiB at MSS {mss}"
        );
        // Cuts (by the congestion window) fall on whole wire segments: only the segment that
        // ends the write may be short.
        if retransmitted == 0 {
            let wire = *sizes.keys().last().expect("data segments");
            let short: Vec<&&Seg> = data_segs.iter().filter(|s| s.payload < wire).collect();
            assert!(
                short.len() <= 1
                    && short
                        .iter()
                        .all(|s| s.seq.wrapping_add(s.payload as u32) == end),
                "every segment but the last is {wire} bytes: sizes {sizes:?}, short {short:?}"
            );
        }
    });
}
