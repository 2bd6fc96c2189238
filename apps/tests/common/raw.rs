//! A raw AF_PACKET socket bound to one interface, for putting hand-made Ethernet frames on a
//! link from the kernel's side (e.g. malformed IPv4 headers that no kernel socket would send).
//!
//! Create it on a thread that has entered the interface's namespace ([`super::Netns::in_thread`]):
//! the interface index and the socket belong to the thread's network namespace.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A send-only packet socket bound to an interface (protocol 0: it receives nothing).
pub struct RawSocket {
    fd: OwnedFd,
    ifname: String,
}

impl RawSocket {
    /// Opens a packet socket and binds it to `ifname`. Fails the test on any error.
    pub fn bind(ifname: &str) -> RawSocket {
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
        sll.sll_protocol = 0;
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
}
