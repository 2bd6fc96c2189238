//! The kernel's side of a net_tap port: its transmit queue length.
//!
//! Frames the kernel sends to the engine wait in the tap's queue (one per queue of a
//! multi-queue tap, sized by the interface's `txqueuelen`) until the engine's `rx_burst` reads
//! them; a full queue drops them (counted by the kernel as the interface's TX drops). Linux
//! gives a tap 1000 frames; with a thousand connections sending at once that overflows
//! (`wrk -c1000` against `serve http` lost 2-7k frames per 10 s, p99 0.4-0.9 s; 5000: none,
//! p99 60 ms, issue 10). So the engine raises it to [`TAP_TXQUEUELEN`] when it creates a tap,
//! as `ip link set dev IFNAME txqueuelen 5000` would.

use std::io;

/// The kernel-side transmit queue length the engine gives every tap it creates, in frames.
/// Memory is taken only by frames actually queued (the kernel's own sockets bound them).
pub const TAP_TXQUEUELEN: u32 = 5000;

/// `struct ifreq` with the `ifr_qlen` member of its union (40 bytes on Linux x86_64).
#[repr(C)]
struct IfreqQlen {
    name: [libc::c_char; libc::IFNAMSIZ],
    qlen: libc::c_int,
    _pad: [u8; 20],
}

/// Sets the transmit queue length of interface `ifname` (of the calling thread's network
/// namespace) to `len` frames (`SIOCSIFTXQLEN`; needs CAP_NET_ADMIN).
pub fn set_txqueuelen(ifname: &str, len: u32) -> io::Result<()> {
    let bytes = ifname.as_bytes();
    if bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not an interface name",
        ));
    }
    let mut req = IfreqQlen {
        name: [0; libc::IFNAMSIZ],
        qlen: libc::c_int::try_from(len).unwrap_or(libc::c_int::MAX),
        _pad: [0; 20],
    };
    for (d, &b) in req.name.iter_mut().zip(bytes) {
        *d = b as libc::c_char;
    }
    // SAFETY: plain socket(2) call; the descriptor is closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a socket we own; `req` is a valid, initialised ifreq-sized struct that the
    // kernel reads (name, qlen) for SIOCSIFTXQLEN.
    let rc = unsafe { libc::ioctl(fd, libc::SIOCSIFTXQLEN, &mut req) };
    let err = io::Error::last_os_error();
    // SAFETY: fd is ours and closed once.
    unsafe { libc::close(fd) };
    if rc != 0 {
        return Err(err);
    }
    Ok(())
}
