//! Hand-made Ethernet frames on a link, from the kernel's side:
//!
//! - [`RawSocket`]: an AF_PACKET socket bound to one interface, for putting frames on it (e.g.
//!   malformed IPv4 headers that no kernel socket would send) and, opened with
//!   [`RawSocket::capture`], for reading every frame the interface receives from the other end.
//! - [`Tap`]: a tap interface whose descriptor the test holds itself: what the test writes, the
//!   kernel receives on the interface; what the kernel sends on it, the test reads.
//!
//! Both are a [`Link`]. Create them on a thread that has entered the interface's namespace
//! ([`super::Netns::in_thread`]): the interface and the socket belong to the thread's network
//! namespace; afterwards they may be used from any thread.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// Something that puts whole Ethernet frames (no FCS) on a link and reads what comes back.
pub trait Link: Send + Sync {
    /// Transmits `frame` as is; fails the test on an error.
    fn send(&self, frame: &[u8]);
    /// The next frame received within `timeout`, or `None`.
    fn recv(&self, timeout: Duration) -> Option<Vec<u8>>;
}

/// Socket option: do not deliver the interface's own transmissions (Linux 4.20).
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
/// The largest frame a link here carries (tap TSO frames included), with room to spare.
const MAX_FRAME: usize = 65_536;

/// Waits until `fd` is readable or `deadline` passes; true if readable.
fn readable_before(fd: &OwnedFd, deadline: Instant) -> bool {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: p is one valid pollfd.
        let rc = unsafe { libc::poll(&mut p, 1, ms) };
        if rc > 0 {
            return true;
        }
        if rc == 0 && Instant::now() >= deadline {
            return false;
        }
        if rc < 0 {
            let e = std::io::Error::last_os_error();
            assert_eq!(e.kind(), std::io::ErrorKind::Interrupted, "poll: {e}");
        }
    }
}

/// Whether a failed non-blocking read is worth retrying (nothing queued yet, or a signal).
fn retryable(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
    )
}

/// One `recvfrom(2)` on packet socket `fd` into `buf` with `flags`: the frame's length (with
/// MSG_TRUNC, its length before truncation) and its packet type (`sll_pkttype`:
/// `libc::PACKET_OUTGOING` for the interface's own transmissions).
pub fn recv_frame(
    fd: &impl AsRawFd,
    buf: &mut [u8],
    flags: libc::c_int,
) -> std::io::Result<(usize, u8)> {
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: buf and sll are valid for the sizes passed.
    let n = unsafe {
        libc::recvfrom(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            flags,
            (&mut sll as *mut libc::sockaddr_ll).cast(),
            &mut len,
        )
    };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((n as usize, sll.sll_pkttype))
}

/// A packet socket bound to an interface: send-only ([`RawSocket::bind`]) or also receiving
/// every frame the interface receives ([`RawSocket::capture`]).
pub struct RawSocket {
    fd: OwnedFd,
    ifname: String,
}

impl RawSocket {
    /// Opens a send-only packet socket (protocol 0: it receives nothing) bound to `ifname`.
    /// Fails the test on any error.
    pub fn bind(ifname: &str) -> RawSocket {
        RawSocket::open(ifname, 0)
    }

    /// Opens a packet socket bound to `ifname` that also receives every frame arriving on the
    /// interface (ETH_P_ALL, whatever its destination MAC), but not the interface's own
    /// transmissions (this socket's included).
    pub fn capture(ifname: &str) -> RawSocket {
        let s = RawSocket::open(ifname, (libc::ETH_P_ALL as u16).to_be());
        let one: libc::c_int = 1;
        // SAFETY: one is a valid c_int for the option's size. Old kernels refuse the option;
        // recv() filters outgoing frames by their packet type anyway.
        unsafe {
            libc::setsockopt(
                s.fd.as_raw_fd(),
                libc::SOL_PACKET,
                PACKET_IGNORE_OUTGOING,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        s
    }

    /// Opens a packet socket and binds it to `ifname` for `protocol` (network byte order).
    fn open(ifname: &str, protocol: u16) -> RawSocket {
        let c = CString::new(ifname).expect("no NUL in interface names");
        // SAFETY: c is a valid C string.
        let ifindex = unsafe { libc::if_nametoindex(c.as_ptr()) };
        assert_ne!(
            ifindex,
            0,
            "no interface {ifname} in this thread's namespace: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: plain socket(2) call; the result is checked before use.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
        assert!(
            raw >= 0,
            "socket(AF_PACKET) failed: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: raw is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid starting value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = protocol;
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: sll is a properly initialised sockaddr_ll and its size is passed.
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
            "bind(AF_PACKET, {ifname}) failed: {}",
            std::io::Error::last_os_error()
        );
        RawSocket {
            fd,
            ifname: ifname.into(),
        }
    }

    /// Transmits `frame` (a whole Ethernet frame, no FCS) on the interface, as is.
    pub fn send(&self, frame: &[u8]) {
        Link::send(self, frame)
    }
}

impl Link for RawSocket {
    fn send(&self, frame: &[u8]) {
        // SAFETY: frame is a valid buffer of frame.len() bytes; the socket is bound.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        assert_eq!(
            n,
            frame.len() as isize,
            "send on {} failed: {}",
            self.ifname,
            std::io::Error::last_os_error()
        );
    }

    fn recv(&self, timeout: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; MAX_FRAME];
        while readable_before(&self.fd, deadline) {
            match recv_frame(&self.fd, &mut buf, libc::MSG_DONTWAIT) {
                Ok((n, pkttype)) if pkttype != libc::PACKET_OUTGOING => {
                    return Some(buf[..n].to_vec());
                }
                Ok(_) => {}
                Err(e) => assert!(retryable(&e), "recv on {} failed: {e}", self.ifname),
            }
        }
        None
    }
}

/// A tap interface created by the test, which holds its descriptor (no packet information
/// header, no offloads: the kernel hands it finished frames, every checksum computed and
/// segments no larger than the MSS). The interface goes when the descriptor is closed (drop).
pub struct Tap {
    fd: OwnedFd,
    name: String,
}

impl Tap {
    /// Creates tap `name` in the calling thread's network namespace (it is down; configure it
    /// with `ip`). Fails the test on any error.
    pub fn create(name: &str) -> Tap {
        assert!(
            name.len() < 16,
            "{name:?} is too long for an interface name"
        );
        // SAFETY: the path is a valid C string; the result is checked before use.
        let raw = unsafe {
            libc::open(
                c"/dev/net/tun".as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        assert!(
            raw >= 0,
            "open(/dev/net/tun) failed: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: raw is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // struct ifreq: the name (16 bytes, NUL-terminated), then ifr_flags (a short).
        let mut ifr = [0u8; 40];
        ifr[..name.len()].copy_from_slice(name.as_bytes());
        let flags = (libc::IFF_TAP | libc::IFF_NO_PI) as i16;
        ifr[16..18].copy_from_slice(&flags.to_ne_bytes());
        // SAFETY: ifr is at least as large as struct ifreq and outlives the call.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, ifr.as_mut_ptr()) };
        assert_eq!(
            rc,
            0,
            "TUNSETIFF({name}) failed: {}",
            std::io::Error::last_os_error()
        );
        Tap {
            fd,
            name: name.to_string(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Link for Tap {
    fn send(&self, frame: &[u8]) {
        // SAFETY: frame is a valid buffer of frame.len() bytes.
        let n = unsafe { libc::write(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len()) };
        assert_eq!(
            n,
            frame.len() as isize,
            "write to tap {} failed: {}",
            self.name,
            std::io::Error::last_os_error()
        );
    }

    fn recv(&self, timeout: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; MAX_FRAME];
        while readable_before(&self.fd, deadline) {
            // SAFETY: buf is valid for buf.len() bytes.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n >= 0 {
                return Some(buf[..n as usize].to_vec());
            }
            let e = std::io::Error::last_os_error();
            assert!(retryable(&e), "read from tap {} failed: {e}", self.name);
        }
        None
    }
}
